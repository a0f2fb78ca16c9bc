"""Goal: the node documents itself offline: /docs (Swagger UI) and /redoc load every script,
stylesheet and icon from the node (assets shipped with an installed package), none from a CDN,
and the OpenAPI description is written for users: it names no module of the implementation.
Method: the application in-process (starlette's TestClient), every asset the pages name
fetched from it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tachyon.node import create_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        yield client


@pytest.mark.parametrize(("page", "script"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
def test_the_documentation_pages_load_only_from_the_node(
    client: TestClient, page: str, script: str
) -> None:
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert re.findall(r"https?://", html.text) == []  # no CDN, no web fonts
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert any(script in asset and asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        assert asset.startswith("/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 1_000, asset
    assert "/openapi.json" in html.text


def test_the_openapi_description_is_written_for_users(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    text = json.dumps(spec)
    assert re.findall(r"tachyon\.[a-z_]+\.[a-z_]+", text) == []  # no module paths
    description = spec["info"]["description"]
    for needle in ("X-Tachyon-Signature", "/v1/commands", "exact decimal", "/v1/ws/market"):
        assert needle in description
