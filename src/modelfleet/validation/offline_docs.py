"""Data Docs that render offline: GX's pages load bootstrap, jquery, vega and a dozen
more from CDNs (its templates hard-code them, and a site's custom views cannot replace
a template GX ships). After each build the site gets the vendored copies under
`static/vendor/` and every page's CDN URLs are rewritten to them, relatively, so a
page works from `file://` as well as through the Models UI.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from modelfleet.webassets import PACKAGES, asset, url_path

VENDOR_DIR = "static/vendor"

# The URL each GX 1.x template asks for -> (npm package, file). GX pins most of them;
# vega, vega-lite and vega-embed float on a major, and the filter-control stylesheet
# is asked for at 1.19.0 beside bootstrap-table 1.19.1 (the vendored 1.19.1 serves).
CDN: dict[str, tuple[str, str]] = {
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed", "build/vega-embed.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js",
        "dist/umd/popper.min.js",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap",
        "dist/js/bootstrap.min.js",
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap",
        "dist/css/bootstrap.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table",
        "dist/bootstrap-table.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table",
        "dist/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark",
        "dist/css/bootstrap-prefers-dark.min.css",
    ),
}
# The navbar's logo comes from GX's S3 bucket (with a query string; in dark mode its
# stylesheet asks for a dark variant there too); GX copies the logo into every site's
# static/images/, which serves for both.
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"')]*")
# Subresource integrity names the CDN's bytes, and crossorigin makes a file:// page
# refuse a local script: both go with the CDN URL.
_SRI = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"")
_URLS = re.compile("|".join(re.escape(url) for url in sorted(CDN, key=len, reverse=True)))


def localize_site(site: Path) -> int:
    """Copy the vendored assets into the Data Docs site at `site` and point its pages
    at them. Idempotent; returns how many pages changed."""
    copy_assets(site / VENDOR_DIR)
    changed = 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        depth = len(page.relative_to(site).parts) - 1
        local = localize_page(html, "../" * depth)
        if local != html:
            page.write_text(local, encoding="utf-8")
            changed += 1
    return changed


def localize_page(html: str, to_root: str) -> str:
    """`html` with every CDN asset GX uses pointed at the site's vendored copy
    (`to_root`: the page's relative way up to the site root, "" or "../../")."""
    if "https://" not in html:
        return html
    html = _URLS.sub(lambda m: f"{to_root}{VENDOR_DIR}/{url_path(*CDN[m.group(0)])}", html)
    html = _LOGO.sub(f"{to_root}static/images/logo-long.png", html)
    return _SRI.sub("", html)


def copy_assets(target: Path) -> None:
    """Every file the CDN map names, with its package's licences (a copy whose size
    matches is left alone: a site is rebuilt on every validation)."""
    for package, file in sorted(set(CDN.values())) + _fonts():
        _copy(asset(package, file), target / url_path(package, file))
    for found in {PACKAGES[name] for name, _ in CDN.values()}:
        for licence in (*found.licences, "LICENCE-NOTE.txt"):
            if (found.root / licence).is_file():
                _copy(found.root / licence, target / found.dirname / licence)


def _fonts() -> list[tuple[str, str]]:
    """font-awesome's stylesheet loads its webfonts relatively (../webfonts/)."""
    package = PACKAGES["@fortawesome/fontawesome-free"]
    return [(package.name, f) for f in package.files if f.startswith("webfonts/")]


def _copy(source: Path, target: Path) -> None:
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
