"""Every page a person opens renders with the internet unplugged: headless Chromium
aborts (and records) each request that is not to this machine, and each test asserts
that none was attempted and that the page really rendered: the endpoint's Swagger UI
and ReDoc, a workflow's Data Docs (index and a validation page, through the Models UI),
`dvc plots show` of a released version, and the Models pages inside Airflow.

Needs Debian's `chromium` at /usr/bin/chromium (nothing is installed at run time).
Screenshots go to `$MODELFLEET_TEST_ARTIFACTS/offline` (default
`var/test-artifacts/offline` in the checkout).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from modelfleet.settings import CHECKOUT
from modelfleet.versioning.commands import BIN, tool_env
from tests.integration import test_ui
from tests.integration.test_ui import CHROMIUM, WORKFLOW, AirflowUI, production

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# test_ui's module fixtures: digits released twice, Airflow's api-server with its users
released = test_ui.released
airflow_ui = test_ui.airflow_ui
monkeypatch_module = test_ui.monkeypatch_module

ARTIFACTS = (
    Path(os.environ.get("MODELFLEET_TEST_ARTIFACTS", CHECKOUT / "var" / "test-artifacts"))
    / "offline"
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
LOCAL_SCHEMES = {"file", "data", "blob", "about"}


@contextmanager
def offline_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator[tuple[object, list[str]]]:
    """A Chromium page that may reach only this machine; yields (page, the URLs of
    every request it refused)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import Route, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []

    def only_local(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        context.route("**/*", only_local)
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page, refused
        except Exception:
            page.screenshot(path=ARTIFACTS / "failure.png", full_page=True)
            raise
        finally:
            browser.close()


def shot(page, name: str, *, full_page: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def test_swagger_ui_and_redoc_render_offline(platform):
    from playwright.sync_api import expect

    with offline_page() as (page, refused):
        page.goto(f"{platform.endpoint_url}/docs")
        ui = page.locator(".swagger-ui")
        expect(ui.locator(".info .title")).to_contain_text("modelfleet prediction endpoint")
        expect(ui.locator(".opblock").first).to_be_visible()
        assert ui.locator(".opblock").count() >= 10
        shot(page, "1-endpoint-docs")

        page.goto(f"{platform.endpoint_url}/redoc")
        expect(page.locator("h1", has_text="modelfleet prediction endpoint")).to_be_visible()
        operations = page.locator("[data-section-id^='operation/']")
        expect(operations.first).to_be_visible()
        assert operations.count() >= 10
        shot(page, "2-endpoint-redoc", full_page=False)  # the whole page is ~24,000 px
    assert refused == []


def test_data_docs_and_models_pages_render_offline(airflow_ui: AirflowUI, released):
    from playwright.sync_api import expect

    with airflow_ui.client("admin") as client:
        found = client.get(f"/models/api/workflows/{WORKFLOW}").json()
    validation_page = found["versions"][-1]["urls"]["data_docs"]
    assert validation_page and "/validations/" in validation_page, found["versions"][-1]
    index_page = f"/models/data-docs/{WORKFLOW}/index.html"
    before = production(released)

    with offline_page((1500, 1100)) as (page, refused):
        page.goto(f"{airflow_ui.url}/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", airflow_ui.passwords["admin"])
        page.click("button[type=submit]")

        # the Models pages, inside Airflow's own UI
        page.get_by_role("link", name="Models").click()
        page.wait_for_url(re.compile(r"/plugin/models"))
        models = page.frame_locator("iframe[title=Models]")
        expect(models.locator(f"#fleet tr[data-workflow={WORKFLOW}] td.production")).to_have_text(
            before
        )
        shot(page, "3-models-fleet")
        models.locator(f"#fleet tr[data-workflow={WORKFLOW}] a.workflow").click()
        expect(models.locator("#production")).to_have_text(before)
        expect(models.locator("svg.trend")).to_be_visible()
        shot(page, "4-models-workflow")
        models.locator(f"#versions tr[data-version='{before}'] a", has_text="lineage").click()
        expect(models.locator("svg.lineage [data-node=validation]")).to_be_visible()
        shot(page, "5-models-lineage")

        # the workflow's Data Docs, as the Models UI serves them
        for name, path in (
            ("6-data-docs-index", index_page),
            ("7-data-docs-validation", validation_page),
        ):
            page.goto(f"{airflow_ui.url}{path}")
            assert_data_docs_styled(page)
            shot(page, name)
        expect(page.locator("text=Expectation Validation Result").first).to_be_visible()
    assert refused == []


def assert_data_docs_styled(page) -> None:
    """Bootstrap's stylesheet and scripts, bootstrap-table, font-awesome and vega all
    loaded (unstyled, GX's page is bare HTML many thousand pixels long)."""
    page.wait_for_load_state("networkidle")
    state = page.evaluate(
        """() => ({
            bootstrapCss: getComputedStyle(document.body).fontFamily.includes('-apple-system'),
            navbar: getComputedStyle(document.querySelector('nav.navbar')).display,
            jquery: typeof window.jQuery === 'function',
            bootstrapJs: !!(window.jQuery && jQuery.fn.modal && jQuery.fn.tooltip),
            bootstrapTable: !!(window.jQuery && jQuery.fn.bootstrapTable),
            styledTables: document.querySelectorAll('.bootstrap-table table').length,
            vega: typeof window.vegaEmbed === 'function' && typeof window.vega === 'object',
            fontAwesome: [...document.fonts].some(
                f => f.family.includes('Font Awesome') && f.status === 'loaded'),
        })"""
    )
    assert state == {
        "bootstrapCss": True,
        "navbar": "flex",
        "jquery": True,
        "bootstrapJs": True,
        "bootstrapTable": True,
        "styledTables": state["styledTables"],
        "vega": True,
        "fontAwesome": True,
    }, state
    assert state["styledTables"] >= 1, state


def test_dvc_plots_render_offline(released, tmp_path: Path):
    """`dvc plots show` in a clone of the model repository at a released tag."""
    from playwright.sync_api import expect

    from modelfleet.settings import get_settings

    repo = get_settings().repo
    tag = f"{WORKFLOW}@{production(released)}"
    clone = tmp_path / "clone"

    def run(*args: str, cwd: Path = clone) -> None:
        done = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True)
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    run("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    run("git", "checkout", "-q", tag)
    run(str(BIN / "dvc"), "config", "--local", "cache.dir", str(repo / ".dvc" / "cache"))
    plots = [f"models/{WORKFLOW}/{name}" for name in ("history.csv", "confusion.png", "curves.png")]
    run(str(BIN / "dvc"), "checkout", "-q", f"evaluate@{WORKFLOW}")
    run(str(BIN / "dvc"), "plots", "show", *plots, "-o", str(tmp_path / "plots"))
    index = tmp_path / "plots" / "index.html"
    assert "cdn.jsdelivr.net" not in index.read_text()

    with offline_page() as (page, refused):
        page.goto(index.as_uri())
        expect(page.locator(".vega-embed").first).to_be_visible()
        assert page.locator(".vega-embed svg, .vega-embed canvas").count() >= 1
        for image in page.locator("img").all():
            assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.locator("img").count() >= 2
        shot(page, "8-dvc-plots")
    assert refused == []


def test_the_endpoint_docs_need_no_key(platform):
    """The pages and their assets answer without an API key (they are the way in)."""
    page = httpx.get(f"{platform.endpoint_url}/docs", timeout=10)
    assert page.status_code == 200
    for src in re.findall(r"(?:src|href)=['\"](/docs/assets/[^'\"]+)", page.text):
        assert httpx.get(f"{platform.endpoint_url}{src}", timeout=10).status_code == 200
    assert httpx.get(f"{platform.endpoint_url}/openapi.json", timeout=10).status_code == 200
