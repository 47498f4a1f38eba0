"""/docs and /redoc name only the endpoint's own asset URLs, and those serve the
vendored files (the browser test, tests/integration/test_offline_pages.py, renders them
with every external request blocked)."""

from __future__ import annotations

import re

from modelfleet.serving.openapi import ASSETS_PATH
from modelfleet.webassets import asset


def loaded_urls(html: str) -> list[str]:
    return re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", html) + re.findall(
        r"url: ?['\"]([^'\"]+)['\"]", html
    )


def test_swagger_ui_loads_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = loaded_urls(page.text)
    assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
    assert f"{ASSETS_PATH}/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in urls
    bundle = client.get(f"{ASSETS_PATH}/swagger-ui-dist-5.35.0/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.content == asset("swagger-ui-dist", "swagger-ui-bundle.js").read_bytes()
    assert "javascript" in bundle.headers["content-type"]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_redoc_loads_only_local_assets(client):
    page = client.get("/redoc")
    assert page.status_code == 200
    assert "fonts.googleapis.com" not in page.text
    urls = loaded_urls(page.text)
    assert not [u for u in urls if "://" in u or u.startswith("//")], urls
    assert f"{ASSETS_PATH}/redoc-2.5.4/bundles/redoc.standalone.js" in urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_only_the_listed_assets_are_served(client):
    for path in ("swagger-ui-dist-5.35.0/NOTICE", "../../pyproject.toml", "x.js"):
        response = client.get(f"{ASSETS_PATH}/{path}")
        assert response.status_code == 404, path
        assert "error" in response.json()


def test_redoc_is_served_without_redoclys_cdn_logo(client):
    bundle = client.get(f"{ASSETS_PATH}/redoc-2.5.4/bundles/redoc.standalone.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert b"cdn.redoc.ly" not in bundle.content
    assert b"cdn.redoc.ly" in asset("redoc", "bundles/redoc.standalone.js").read_bytes()
