"""The vendored web assets: every file the manifest lists is in the package, each
package with its licence, and vega inlines as scripts that a page cannot cut short."""

from __future__ import annotations

import pytest

from modelfleet.webassets import PACKAGES, VENDOR, asset, url_path, vega_scripts


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_package_is_vendored_with_its_licence(name):
    package = PACKAGES[name]
    for file in package.files:
        assert package.path(file).stat().st_size > 0, file
    licences = [package.root / f for f in (*package.licences, "LICENCE-NOTE.txt")]
    assert any(path.is_file() for path in licences), f"{package.spec} has no licence"


def test_nothing_unlisted_is_vendored():
    listed = {
        package.root / f
        for package in PACKAGES.values()
        for f in (*package.files, *package.licences, "LICENCE-NOTE.txt")
    }
    assert {p for p in VENDOR.rglob("*") if p.is_file()} <= listed


def test_an_unknown_asset_is_named():
    with pytest.raises(KeyError, match="'vegas' is not vendored"):
        asset("vegas", "build/vega.min.js")
    with pytest.raises(KeyError, match=r"vega@5\.33\.1: 'vega\.js' is not vendored"):
        url_path("vega", "vega.js")


def test_vega_inlines_as_three_whole_scripts():
    html = vega_scripts()
    assert html.count("<script>") == 3
    assert html.lower().count("</script") == 3
    assert "https://cdn" not in html.split("*/", 1)[0]


def test_the_vendored_files_are_package_data():
    """An installed wheel carries them (`pip wheel .` lists all of vendor/)."""
    import tomllib

    from modelfleet.settings import CHECKOUT

    pyproject = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())
    assert "webassets/vendor/**/*" in pyproject["tool"]["setuptools"]["package-data"]["modelfleet"]
