"""The tachyon node: the embedded exchange served over the network (issue 5, in progress).
So far: the sequencer that group-commits concurrent requests."""

from tachyon.node.sequencer import Sequencer as Sequencer

__all__ = ["Sequencer"]
