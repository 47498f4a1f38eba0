"""The validate and train steps against real Postgres, DVC and GX: quarantine of a
few bad files, refusal when there are too many, and tamper detection before any
training starts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.datasets.deliveries import ensure_delivered
from modelfleet.datasets.manifest import read_manifest
from modelfleet.errors import TamperedData, ValidationFailed
from modelfleet.naming import data_dir
from modelfleet.pipeline import data, training
from modelfleet.pipeline.context import RunContext
from modelfleet.registry import db
from modelfleet.registry.entities import RunRef
from modelfleet.registry.tables import TrainingRunRow, ValidationRow

pytestmark = pytest.mark.integration


def context(workflow: str, month: str) -> RunContext:
    return RunContext(workflow, month, RunRef(dag_id=f"test__{workflow}", run_id=f"test-{month}"))


def deliver(platform, workflow: str, month: str):
    fleet = load_fleet(platform.config)
    for earlier in ("2026-01", month):
        ensure_delivered(fleet.get(workflow), earlier, platform.home / "deliveries")
    return platform.home / "deliveries" / workflow / month


def validations(platform, dataset_ids: set[int]) -> list[ValidationRow]:
    with Session(db.engine(platform.database_url)) as session:
        return (
            session.query(ValidationRow)
            .filter(ValidationRow.dataset_version_id.in_(dataset_ids))
            .order_by(ValidationRow.id)
            .all()
        )


def test_a_few_bad_files_are_quarantined_and_the_run_goes_on(platform):
    month = deliver(platform, "label_printer1", "2026-02")
    corrupt = sorted((month / "train" / "ok").glob("*.png"))[0]
    corrupt.write_bytes(corrupt.read_bytes()[:50])
    stray = month / "train" / "notes.txt"  # no label folder, not an image
    stray.write_text("camera 2 re-focused\n")
    ctx = context("label_printer1", "2026-02")

    first = data.snapshot(ctx)["dataset_version_id"]
    passed = data.validate(ctx, first)

    assert passed["dataset_version_id"] != first  # re-snapshotted without the bad files
    quarantine = platform.home / "quarantine" / "label_printer1" / "2026-02" / "train"
    for bad, folder in ((corrupt, "ok"), (stray, "_unlabelled")):
        assert not bad.exists()
        assert (quarantine / folder / bad.name).exists()
        reason = (quarantine / folder / f"{bad.name}.reason.txt").read_text()
        assert "label_printer1 2026-02" in reason
    assert "decodable" in (quarantine / "ok" / f"{corrupt.name}.reason.txt").read_text()
    assert "labels_known" in (quarantine / "_unlabelled" / "notes.txt.reason.txt").read_text()
    rows = read_manifest(ctx.workspace().path / data_dir("label_printer1", "train"))
    assert not {r.path for r in rows} & {f"2026-02/ok/{corrupt.name}", "2026-02/notes.txt"}
    failed, ok = validations(platform, {first, passed["dataset_version_id"]})
    assert not failed.success and set(failed.offending_files) == {
        f"train/2026-02/ok/{corrupt.name}",
        "train/2026-02/notes.txt",
    }
    assert ok.success and {q["file"] for q in ok.quarantined} == set(failed.offending_files)
    assert (platform.home / "deliveries").stat().st_mode & 0o777 == 0o700
    assert (platform.home / "quarantine").stat().st_mode & 0o777 == 0o700


def test_too_many_bad_files_fail_the_run_and_nothing_moves(platform):
    month = deliver(platform, "label_printer2", "2026-02")
    broken = sorted((month / "train" / "ok").glob("*.png"))[:10]  # 10 of 300 > 2%
    for path in broken:
        path.write_bytes(b"\x89PNG truncated")
    ctx = context("label_printer2", "2026-02")
    dataset = data.snapshot(ctx)["dataset_version_id"]

    with pytest.raises(ValidationFailed) as caught:
        data.validate(ctx, dataset)

    assert all(path.exists() for path in broken)
    message = str(caught.value)
    assert "nothing was trained" in message and "decodable" in message
    assert f"train/2026-02/ok/{broken[0].name}" in message
    (failed,) = validations(platform, {dataset})
    assert not failed.success and len(failed.offending_files) == 10
    # a failed month stays out of later training windows
    later = context("label_printer2", "2026-03")
    data.snapshot(later)
    rows = read_manifest(later.workspace().path / data_dir("label_printer2", "train"))
    assert {r.month for r in rows} == {"2026-01", "2026-03"}


def test_data_changed_after_validation_never_trains(platform):
    deliver(platform, "weld_pipe", "2026-02")
    ctx = context("weld_pipe", "2026-02")
    validated = data.validate(ctx, data.snapshot(ctx)["dataset_version_id"])
    train_dir = ctx.workspace().path / data_dir("weld_pipe", "train")
    victim = sorted((train_dir / "2026-02").rglob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")

    with pytest.raises(TamperedData, match=r"1 changed \(2026-02/"):
        training.train(ctx, validated["dataset_version_id"])

    with Session(db.engine(platform.database_url)) as session:
        assert (
            session.query(TrainingRunRow)
            .filter_by(dataset_version_id=validated["dataset_version_id"])
            .count()
            == 0
        )
