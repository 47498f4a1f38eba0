from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from modelfleet.datasets import packaged
from modelfleet.datasets.packaged import (
    SOURCE_IMAGES,
    BundledImage,
    PackagedPatchSource,
    available,
    default_classes,
)
from modelfleet.datasets.procedural import STYLE_MONTH
from modelfleet.errors import ConfigError, DataError, NoDataForMonth
from modelfleet.months import add_months

START = "2026-01"
SKLEARN = ("sklearn:china.jpg", "sklearn:flower.jpg")
SKIMAGE = ("skimage:brick.png", "skimage:grass.png", "skimage:gravel.png")


def _source(images=SKLEARN, shape=(32, 32, 3), drift=1.0, per_month=30, months=12):
    return PackagedPatchSource(
        "materials", images, default_classes(images), shape, START, months,
        images_per_month=per_month, test_size=20, drift=drift,
    )  # fmt: skip


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32)


def test_sklearn_sample_images_are_installed_and_give_five_classes():
    assert available(SKLEARN)
    assert default_classes(SKLEARN) == ("water", "foliage", "pagoda", "petals", "leaves")


@pytest.mark.parametrize(("shape", "mode"), [((32, 32, 3), "RGB"), ((28, 40, 1), "L")])
def test_months_and_test_set_are_real_pngs(shape, mode):
    source = _source(shape=shape, months=6)
    split = source.month("2026-03")
    assert len(split.train) == 24 and len(split.holdout) == 6
    test = source.test_set()
    assert len(test) == 20
    for image in split.train + split.holdout + test:
        decoded = Image.open(io.BytesIO(image.data))
        assert decoded.format == "PNG" and decoded.mode == mode
        assert decoded.size == (shape[1], shape[0])
    names = [i.name for i in split.train + split.holdout + test]
    assert len(set(names)) == len(names)


def test_patches_are_deterministic_and_differ_by_month():
    one = [i.data for i in _source().month("2026-04").train]
    assert one == [i.data for i in _source().month("2026-04").train]
    assert one != [i.data for i in _source().month("2026-05").train]


def test_months_and_test_set_crop_disjoint_parts_of_each_region():
    for bundled in SOURCE_IMAGES.values():
        for box in bundled.regions.values():
            if box is None:
                continue
            months = packaged._split(box, "months")
            test = packaged._split(box, "test")
            overlap_x = min(months[2], test[2]) - max(months[0], test[0])
            overlap_y = min(months[3], test[3]) - max(months[1], test[1])
            assert overlap_x <= 0 or overlap_y <= 0
            assert min(test[2] - test[0], test[3] - test[1]) >= 34  # fits a 40 px patch-ish


def test_zoomed_out_patches_appear_only_from_the_style_month():
    source = _source(per_month=100)
    for index in range(12):
        styles = {s.style for s in source.plan(add_months(START, index))}
        assert ("zoomed_out" in styles) == (index >= STYLE_MONTH), index
    # From the style month on, the share of zoomed-out patches grows until it is all.
    last = source.plan("2026-12")
    assert {s.style for s in last} == {"zoomed_out"}


def test_lighting_drifts_with_drift_one_and_not_with_drift_zero():
    def mean(source, month):
        return float(np.mean([_pixels(i.data).mean() for i in source.month(month).train]))

    drifting, still = _source(drift=1.0), _source(drift=0.0)
    assert mean(drifting, "2026-01") - mean(drifting, "2026-07") > 8
    assert abs(mean(still, "2026-01") - mean(still, "2026-07")) < 3


def test_errors_name_what_is_wrong():
    with pytest.raises(ConfigError, match="are not among"):
        PackagedPatchSource("m", ("sklearn:nope.jpg",), ("a", "b"), (32, 32, 3), START, 3)
    with pytest.raises(ConfigError, match=r"classes \['brick'\] are no region"):
        PackagedPatchSource("m", SKLEARN, ("water", "brick"), (32, 32, 3), START, 3)
    with pytest.raises(NoDataForMonth):
        _source(months=3).month("2026-04")


def test_a_missing_package_is_a_data_error_naming_the_requirement(monkeypatch):
    fake = BundledImage(
        "not_a_real_pkg_xyz", "a.png", "not-a-real-pkg==1.0", {"a": None, "b": None}
    )
    monkeypatch.setitem(SOURCE_IMAGES, "fake:a.png", fake)
    assert not available(("fake:a.png",))
    source = PackagedPatchSource("m", ("fake:a.png",), ("a", "b"), (32, 32, 1), START, 3, 10)
    with pytest.raises(DataError, match=r"install not-a-real-pkg==1\.0"):
        source.month(START)


@pytest.mark.skipif(not available(SKIMAGE), reason="scikit-image (its bundled textures) missing")
def test_scikit_image_textures_make_a_three_class_dataset():
    source = _source(SKIMAGE, shape=(32, 32, 1), per_month=12)
    split = source.month("2026-02")
    assert {i.label for i in split.train + split.holdout} == {"brick", "grass", "gravel"}
    assert all(_pixels(i.data).shape == (32, 32) for i in split.train)
