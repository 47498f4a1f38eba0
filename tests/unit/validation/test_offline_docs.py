"""Data Docs pages point at the site's vendored copies instead of CDNs."""

from __future__ import annotations

from pathlib import Path

from modelfleet.validation.offline_docs import CDN, VENDOR_DIR, localize_page, localize_site

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<style>.navbar-brand a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') }</style>
</head><body>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261204"/>
<a href="https://greatexpectations.io">Great Expectations</a>
</body></html>"""


def test_a_page_loads_nothing_from_the_internet():
    page = localize_page(GX_HEAD, "../../")
    assert 'href="../../static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"' in page
    assert 'src="../../static/vendor/vega-5.33.1/build/vega.min.js"' in page
    assert 'src="../../static/vendor/vega-lite-5.23.0/build/vega-lite.min.js"' in page
    assert 'src="../../static/vendor/popper.js-1.12.9/dist/umd/popper.min.js"></script>' in page
    assert "url('../../static/images/logo-long.png')" in page
    assert 'img src="../../static/images/logo-long.png"' in page
    # a link is no load: it stays
    assert page.count("https://") == 1 and 'href="https://greatexpectations.io"' in page


def test_a_site_gets_the_assets_and_relative_paths(tmp_path: Path):
    (tmp_path / "validations" / "a" / "b").mkdir(parents=True)
    (tmp_path / "index.html").write_text(GX_HEAD)
    (tmp_path / "validations" / "a" / "b" / "page.html").write_text(GX_HEAD)
    assert localize_site(tmp_path) == 2
    assert localize_site(tmp_path) == 0  # idempotent
    assert 'src="static/vendor/vega-5.33.1' in (tmp_path / "index.html").read_text()
    deep = (tmp_path / "validations" / "a" / "b" / "page.html").read_text()
    assert 'src="../../../static/vendor/vega-5.33.1' in deep
    vendor = tmp_path / VENDOR_DIR
    for package, file in CDN.values():
        assert any(vendor.glob(f"*/{file}")), (package, file)
    assert (vendor / "fortawesome-fontawesome-free-6.6.0/webfonts/fa-solid-900.woff2").is_file()
    assert (vendor / "jquery-3.7.1/LICENSE.txt").is_file()
    assert (vendor / "vega-5.33.1/LICENCE-NOTE.txt").is_file()
