from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from modelfleet.datasets.procedural import (
    GENERATORS,
    STYLE_MONTH,
    ProceduralSource,
)
from modelfleet.errors import ConfigError, NoDataForMonth
from modelfleet.months import add_months

START = "2026-01"


def _source(generator="surface", shape=(32, 32, 1), drift=1.0, per_month=40, months=12):
    classes = GENERATORS[generator].classes
    return ProceduralSource(
        "line_7", generator, classes, shape, START, months,
        images_per_month=per_month, test_size=24, drift=drift,
    )  # fmt: skip


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32)


def _digest(images) -> str:
    return hashlib.sha256(b"".join(i.name.encode() + i.data for i in images)).hexdigest()


def test_there_are_at_least_four_generators_with_an_ok_class():
    assert {"surface", "weld", "label", "cap"} <= set(GENERATORS)
    for spec in GENERATORS.values():
        assert spec.classes[0] == "ok" and len(spec.classes) == 4
        assert set(spec.styles) < set(spec.classes[1:])


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize(("shape", "mode"), [((28, 28, 1), "L"), ((64, 48, 3), "RGB")])
def test_every_generator_writes_real_pngs_of_the_input_shape(generator, shape, mode):
    source = _source(generator, shape, per_month=16)
    split = source.month(add_months(START, STYLE_MONTH + 2))
    assert len(split.holdout) == 3 and len(split.train) == 13
    for image in split.train + split.holdout:
        decoded = Image.open(io.BytesIO(image.data))
        assert decoded.format == "PNG" and decoded.mode == mode
        assert decoded.size == (shape[1], shape[0])
        assert image.label in GENERATORS[generator].classes
        assert _pixels(image.data).std() > 5  # not a blank image


def test_bytes_are_identical_across_calls_and_processes():
    source = _source("weld", (28, 28, 3), per_month=12)
    first = _digest(source.month("2026-05").train + source.test_set())
    assert first == _digest(_source("weld", (28, 28, 3), per_month=12).month("2026-05").train
                            + source.test_set())  # fmt: skip
    script = (
        "import hashlib;"
        "from modelfleet.datasets.procedural import ProceduralSource, GENERATORS;"
        "s = ProceduralSource('line_7', 'weld', GENERATORS['weld'].classes, (28, 28, 3),"
        " '2026-01', 12, images_per_month=12, test_size=24);"
        "images = s.month('2026-05').train + s.test_set();"
        "print(hashlib.sha256(b''.join(i.name.encode() + i.data for i in images)).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == first


def test_workflow_and_month_change_the_images():
    one = _source().month("2026-02").train[0].data
    assert one != _source().month("2026-03").train[0].data
    other = ProceduralSource("line_8", "surface", ("ok", "spot"), (32, 32, 1), START, 12, 40)
    assert one != other.month("2026-02").train[0].data


def test_names_are_unique_across_months_and_the_test_set():
    source = _source("cap", per_month=20)
    names = [i.name for i in source.test_set()]
    for index in range(3):
        split = source.month(add_months(START, index))
        names += [i.name for i in split.train + split.holdout]
    assert len(names) == len(set(names)) == 24 + 3 * 20


def test_months_outside_the_source_raise_no_data_for_month():
    source = _source(months=6)
    source.month("2026-06")
    for month in ("2025-12", "2026-07"):
        with pytest.raises(NoDataForMonth, match=rf"no data for month {month}.*2026-06"):
            source.month(month)


def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="not one of surface, weld, label, cap"):
        ProceduralSource("w", "bogus", ("ok", "x"), (32, 32, 1), START, 3)
    with pytest.raises(ConfigError, match="no classes \\['porosity'\\]"):
        ProceduralSource("w", "surface", ("ok", "porosity"), (32, 32, 1), START, 3)
    with pytest.raises(ConfigError, match="channels"):
        ProceduralSource("w", "surface", ("ok", "spot"), (32, 32, 2), START, 3)


def test_class_shares_drift_but_stay_between_10_and_40_percent():
    shares = []
    for index in range(24):
        labels = [s.label for s in _source(per_month=300, months=24).plan(add_months(START, index))]
        share = {c: labels.count(c) / len(labels) for c in GENERATORS["surface"].classes}
        assert all(0.095 <= v <= 0.405 for v in share.values()), (index, share)
        shares.append(share)
    assert shares[0]["ok"] - shares[11]["ok"] > 0.1
    assert shares[11]["crack"] - shares[0]["crack"] > 0.1
    stationary = _source(per_month=300, drift=0.0)
    assert [s.label for s in stationary.plan("2026-01")].count("ok") == [
        s.label for s in stationary.plan("2026-12")
    ].count("ok")


def test_the_new_defect_style_appears_only_from_the_style_month():
    source = _source(per_month=120)
    for index in range(12):
        samples = source.plan(add_months(START, index))
        new = {(s.label, s.style) for s in samples if s.style != "classic"}
        if index < STYLE_MONTH:
            assert not new, index
        else:
            assert new <= {("crack", "branched"), ("scratch", "curved")}
            assert {label for label, _ in new} == {"crack", "scratch"}, index
    still = _source(per_month=120, drift=0.0)
    assert all(s.style == "classic" for s in still.plan("2026-12"))


def _brightness_and_noise(source, month: str) -> tuple[float, float]:
    """Mean grey level and a robust sensor-noise estimate (MAD of pixel differences)."""
    stack = np.stack([_pixels(i.data) for i in source.month(month).train])
    steps = np.diff(stack, axis=2)
    return float(stack.mean()), float(np.median(np.abs(steps)) / 0.6745 / np.sqrt(2))


def test_images_measurably_drift_with_drift_one_and_not_with_drift_zero():
    bright_0, noise_0 = _brightness_and_noise(_source(), "2026-01")
    bright_6, noise_6 = _brightness_and_noise(_source(), "2026-07")
    assert bright_0 - bright_6 > 10  # grey levels: the lamp has aged
    assert noise_6 > 1.5 * noise_0
    still = _source(drift=0.0)
    still_0, still_noise_0 = _brightness_and_noise(still, "2026-01")
    still_6, still_noise_6 = _brightness_and_noise(still, "2026-07")
    assert abs(still_0 - still_6) < 3
    assert abs(still_noise_6 / still_noise_0 - 1) < 0.1


def test_the_test_set_is_balanced_and_mixes_all_months():
    source = _source(per_month=40)
    plan = source.test_plan()
    assert sorted(s.month_index for s in plan) == sorted(list(range(12)) * 2)
    assert all([s.label for s in plan].count(c) == 6 for c in GENERATORS["surface"].classes)
    assert {s.tag for s in plan} == {"test"}
