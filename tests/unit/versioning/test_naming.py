from __future__ import annotations

from pathlib import Path

import pytest

from modelfleet.errors import VersioningError
from modelfleet.naming import (
    Version,
    parse_serving_dir,
    parse_tag,
    serving_dir,
    tag_name,
)


@pytest.mark.parametrize("text", ["v1.0.0", "v2.13.7", "v10.999.999"])
def test_version_text_and_int_are_inverse(text):
    version = Version.parse(text)
    assert str(version) == text
    assert Version.from_int(version.as_int()) == version


def test_int_versions_order_like_semver():
    versions = [Version(1, 2, 0), Version(1, 10, 0), Version(2, 0, 0), Version(1, 2, 1)]
    assert sorted(versions) == sorted(versions, key=Version.as_int)


def test_tag_and_serving_dir_are_inverse():
    version = Version(1, 3, 0)
    assert parse_tag(tag_name("welds", version)) == ("welds", version)
    path = serving_dir(Path("/srv"), "welds", version)
    assert path == Path("/srv/welds/1003000")
    assert parse_serving_dir(path) == ("welds", version)


@pytest.mark.parametrize("bad", ["1.0.0", "v1.0", "vx.1.2", "digits@1.0.0"])
def test_malformed_versions_and_tags_are_rejected(bad):
    with pytest.raises(VersioningError):
        parse_tag(bad) if "@" in bad else Version.parse(bad)


def test_bump_minor_resets_patch():
    assert Version(1, 2, 3).bump_minor() == Version(1, 3, 0)
