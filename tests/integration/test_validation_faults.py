"""Each kind of bad data, injected into a copy of a real month, fails validation
through the real Great Expectations for exactly its reason; a clean month passes.

The month is surface_line1's 2026-02 (its window is 2026-01 and 2026-02), as the
simulated station delivers it.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from modelfleet.config import Workflow, load_fleet
from modelfleet.datasets.deliveries import ensure_delivered
from modelfleet.datasets.integrity import verify_split
from modelfleet.datasets.snapshot import materialise
from modelfleet.datasets.sources import source_for
from modelfleet.errors import TamperedData
from modelfleet.naming import data_dir
from modelfleet.settings import CHECKOUT
from modelfleet.validation.suite import ValidationOutcome, validate_snapshot

pytestmark = pytest.mark.integration

WORKFLOW = "surface_line1"
MONTH = "2026-02"


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    return load_fleet(CHECKOUT / "workflows.yaml").get(WORKFLOW)


@pytest.fixture(scope="module")
def delivered(workflow: Workflow, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deliveries")
    for month in ("2026-01", MONTH):
        ensure_delivered(workflow, month, root)
    return root


def validate_with(
    workflow: Workflow, delivered: Path, tmp: Path, inject: Callable[[Path], object]
) -> ValidationOutcome:
    deliveries = tmp / "deliveries"
    shutil.copytree(delivered, deliveries)
    inject(deliveries / WORKFLOW / MONTH / "train")
    materialise(workflow, MONTH, tmp / "repo", deliveries)
    return validate_snapshot(workflow, MONTH, tmp / "repo", tmp / "gx", tmp / "data-docs")


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.png"))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def variant(path: Path) -> bytes:
    """A new, valid image: the file with one pixel changed (so a new sha256)."""
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0] = (int(pixels[0, 0]) + 1) % 256
    return png_bytes(Image.fromarray(pixels))


def corrupt_png(train: Path) -> Path:
    target = pngs(train / "ok")[0]
    target.write_bytes(target.read_bytes()[:60])
    return target


def text_renamed_png(train: Path) -> Path:
    target = train / "ok" / "notes.png"
    target.write_text("shift notes: camera 2 cleaned at 06:00\n")
    return target


def wrong_size(train: Path) -> Path:
    target = pngs(train / "scratch")[0]
    target.write_bytes(png_bytes(Image.open(target).resize((40, 40))))
    return target


def unknown_label(train: Path) -> Path:
    target = train / "rust" / "new_defect.png"
    target.parent.mkdir()
    target.write_bytes(variant(pngs(train / "spot")[0]))
    return target


def duplicate(train: Path) -> Path:
    source = pngs(train / "ok")[0]
    target = source.with_name("again_" + source.name)
    shutil.copyfile(source, target)
    return target


def copied_from_test_set(workflow: Workflow) -> Callable[[Path], Path]:
    def inject(train: Path) -> Path:
        image = next(i for i in source_for(workflow).test_set() if i.label == "crack")
        target = train / "crack" / "from_test.png"
        target.write_bytes(image.data)
        return target

    return inject


def class_removed(train: Path) -> None:
    shutil.rmtree(train / "crack")


def mostly_one_class(train: Path) -> None:
    """A station that files nearly everything under `ok`: 80% of the month."""
    total = len(pngs(train))
    keep = round(total * 0.2 / 3)
    for label in ("scratch", "spot", "crack"):
        for path in pngs(train / label)[keep:]:
            path.rename(train / "ok" / f"{label}_{path.name}")


def brighter(train: Path) -> None:
    """The camera's exposure changed: every image 40 grey levels brighter."""
    for path in pngs(train):
        pixels = np.asarray(Image.open(path)).astype(np.int16) + 40
        path.write_bytes(png_bytes(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))))


def test_clean_month_passes(workflow, delivered, tmp_path):
    outcome = validate_with(workflow, delivered, tmp_path, lambda train: None)
    assert outcome.success, [f.describe() for f in outcome.failures()]
    assert not outcome.warnings()
    assert outcome.reference is not None and outcome.reference.month == "2026-01"
    assert outcome.statistics["evaluated_expectations"] >= 18
    assert Path(urlparse(outcome.data_docs).path).is_file()
    assert str(tmp_path / "data-docs" / WORKFLOW) in outcome.data_docs


@pytest.mark.parametrize(
    ("inject", "failed"),
    [
        (corrupt_png, {"decodable"}),
        (text_renamed_png, {"decodable"}),
        (unknown_label, {"labels_known"}),
        (duplicate, {"unique_files"}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_bad_file_fails_its_check_and_is_named(workflow, delivered, tmp_path, inject, failed):
    box: dict[str, Path] = {}
    outcome = validate_with(
        workflow, delivered, tmp_path, lambda train: box.setdefault("file", inject(train))
    )
    assert not outcome.success
    assert outcome.failed_checks() == failed
    bad = box["file"].relative_to(tmp_path / "deliveries" / WORKFLOW / MONTH / "train")
    assert f"train/{MONTH}/{bad.as_posix()}" in outcome.offending_files()


def test_an_image_of_another_size_passes_as_preprocessing_fits_it(workflow, delivered, tmp_path):
    # the shape check applies after preprocessing (imaging.to_model_input)
    outcome = validate_with(workflow, delivered, tmp_path, wrong_size)
    assert outcome.success, [f.describe() for f in outcome.failures()]


def test_image_copied_from_the_test_set_is_leakage(workflow, delivered, tmp_path):
    outcome = validate_with(workflow, delivered, tmp_path, copied_from_test_set(workflow))
    assert outcome.failed_checks() == {"no_test_leakage"}
    assert list(outcome.offending_files()) == [f"train/{MONTH}/crack/from_test.png"]
    assert not outcome.quarantinable()  # leakage is a process fault: the run fails


def test_removed_class_is_missing_and_below_its_share(workflow, delivered, tmp_path):
    outcome = validate_with(workflow, delivered, tmp_path, class_removed)
    # a class with no images also has share 0 < min_class_share: both say so
    assert outcome.failed_checks() == {"all_classes_present", "class_share"}
    (share,) = [f.observed for f in outcome.failures() if f.check == "class_share"]
    assert share == {"class": "crack", "share": 0.0, "min": 0.05}


def test_month_that_is_80_percent_one_class_breaks_the_share_bound(workflow, delivered, tmp_path):
    outcome = validate_with(workflow, delivered, tmp_path, mostly_one_class)
    assert outcome.failed_checks() == {"class_share"}
    (share,) = [f.observed for f in outcome.failures()]
    assert share["class"] == "ok" and share["share"] == pytest.approx(0.8, abs=0.02)


def test_brightness_shift_against_the_previous_month(workflow, delivered, tmp_path):
    outcome = validate_with(workflow, delivered, tmp_path, brighter)
    assert outcome.failed_checks() == {"brightness_drift"}
    assert outcome.month_stats.brightness - outcome.reference.brightness > 0.1
    page = Path(urlparse(outcome.data_docs).path).read_text()
    assert "brightness" in page


def test_file_changed_added_or_removed_after_validation_is_caught(workflow, delivered, tmp_path):
    assert validate_with(workflow, delivered, tmp_path, lambda train: None).success
    train = tmp_path / "repo" / data_dir(WORKFLOW, "train")
    changed, removed = pngs(train / MONTH / "ok")[:2]
    changed.write_bytes(variant(changed))
    removed.unlink()
    (train / MONTH / "ok" / "extra.png").write_bytes(variant(pngs(train / MONTH / "spot")[0]))
    with pytest.raises(TamperedData) as caught:
        verify_split(train)
    message = str(caught.value)
    for kind, path in (("changed", changed), ("added", "extra.png"), ("removed", removed)):
        assert f"1 {kind}" in message
        assert Path(path).name in message


def test_warn_only_checks_do_not_fail_the_run(workflow, delivered, tmp_path):
    lenient = workflow.model_copy(
        update={
            "expectations": workflow.expectations.model_copy(
                update={"warn_only": ("brightness_drift", "contrast_drift")}
            )
        }
    )
    outcome = validate_with(lenient, delivered, tmp_path, brighter)
    assert outcome.success
    assert {w.check for w in outcome.warnings()} == {"brightness_drift"}
