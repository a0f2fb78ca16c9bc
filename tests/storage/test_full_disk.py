"""Goal: a command answered after its commit keeps its answer when the snapshot after it cannot
be written (a full disk): the caller is told it applied, and it did.
Method: a real full disk: a 16 MiB tmpfs in a private mount namespace (`unshare -m`, as root,
which CI is), filled but for room for one commit; `tests.storage.full_disk_worker` submits an
order while a snapshot is due and reports what it was told and what a reopen finds."""

from __future__ import annotations

from pathlib import Path

from tests.support.full_disk import on_a_small_disk


def _on_a_full_disk(tmp_path: Path, scenario: str) -> tuple[dict[str, object], str]:
    return on_a_small_disk(tmp_path, "tests.storage.full_disk_worker", scenario)


def test_a_commit_on_a_full_disk_is_refused_as_a_storage_error_and_applies_nothing(
    tmp_path: Path,
) -> None:
    answer, _ = _on_a_full_disk(tmp_path, "no-room")
    assert answer["error"] == "storage_error", answer  # not corrupt_data: the file is sound
    assert "the disk is full" in str(answer["message"])
    assert answer["seq_in_memory"] == answer["seq"] == 1  # only the deposit, as on disk


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_command_before_it(
    tmp_path: Path,
) -> None:
    answer, stderr = _on_a_full_disk(tmp_path, "snapshot")
    assert answer["placed"] is True, answer  # it was, and the caller is told so
    assert answer["failures"] == 1
    assert answer["open_after_reopen"] is True  # durable, as the answer said
    assert answer["seq"] == 4_002  # the deposit, 4,000 orders and this one
    assert "could not write a snapshot at sequence 4002" in stderr
    assert "the disk is full" in stderr  # the real error, not a ROLLBACK's
