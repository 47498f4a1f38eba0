"""Labels change live accuracy and labelled lake images join the month's snapshot (real Postgres, a real local lake,
digits' real deliveries, the real validation suite): an image labelled before the
cut-off joins train with its label and passes validation; one from the frozen test set
is left out and reported, so the leakage check passes; one labelled after the
cut-off does not count; with `include_labelled: false` none joins."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.datasets.integrity import verify_split
from modelfleet.datasets.manifest import read_manifest, sha256_bytes
from modelfleet.datasets.snapshot import materialise
from modelfleet.lake import Lake
from modelfleet.naming import data_dir
from modelfleet.pipeline.context import RunContext
from modelfleet.pipeline.labelled import add_labelled
from modelfleet.registry import db
from modelfleet.registry.entities import NewPrediction, RunRef
from modelfleet.registry.monitoring_tables import ImageLabelRow
from modelfleet.registry.store import ingest_files, labels, predictions
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.settings import DATABASE_URL_ENV, HOME_ENV, get_settings
from modelfleet.validation.suite import validate_snapshot
from tests.conftest import create_database, drop_database
from tests.helpers.monitoring import add_version
from tests.integration.conftest import frozen_test_image

pytestmark = pytest.mark.integration
WF, MONTH = "digits", "2026-01"
CLASSES = [str(n) for n in range(10)]


@pytest.fixture
def home(pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = create_database(pg_server, "mf_labelled")
    db.migrate(url)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    db.forget_engines()
    yield tmp_path
    db.forget_engines()
    drop_database(url)


def _store(session: Session, lake: Lake, data: bytes, day: str = "2026-01-20") -> str:
    """Put an image in the lake as the stream does; its sha256 (as it arrived)."""
    sha = sha256_bytes(data)
    path = lake.image_path(WF, day, sha, "png")
    lake.put(path, data)
    row = ingest_files.receive(session, WF, [(sha, b"x.png", "x.png")], day)[sha]
    row.state, row.final_path = ingest_files.STORED, path
    return sha


def _new_image(delivered: Path) -> bytes:
    """An image no delivery holds: a delivered digit, turned."""
    image = Image.open(delivered).rotate(90)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_labelled_lake_images_join_train_and_test_set_ones_are_left_out(home: Path):
    settings = get_settings()
    workflow = load_fleet(settings.config_file).get(WF)
    repo = home / "repo"
    splits = materialise(workflow, MONTH, repo, settings.deliveries)
    train_root = repo / data_dir(WF, "train")
    lake = Lake(settings.lake_url)
    cut = datetime.now(UTC) + timedelta(hours=1)
    with Session(db.engine()) as session, session.begin():
        fresh = _store(session, lake, _new_image(train_root / splits["train"].rows[0].path))
        leaked = _store(session, lake, frozen_test_image(WF))
        late = _store(session, lake, _new_image(train_root / splits["train"].rows[1].path))
        # the stream's prediction of the fresh image: v1.0.0 said 1
        predictions.add_prediction(
            session,
            NewPrediction(
                model_version_id=add_version(session, WF, "v1.0.0"),
                image_sha256=fresh,
                label="1",
                score=0.6,
                scores={"1": 0.6},
                source="landing/digits/x.png",
                stored_path=None,
            ),
        )
        assert labels.live_accuracy(session, WF) == {}
        for sha in (fresh, leaked):
            labels.add_label(session, WF, sha, "7", classes=CLASSES, actor="cli:ann")
        live = labels.live_accuracy(session, WF)["v1.0.0"]
        assert (live.labelled, live.correct) == (1, 0)  # the label changed live accuracy
        session.add(
            ImageLabelRow(
                workflow_id=ensure_workflow(session, WF),
                image_sha256=late,
                label="3",
                actor="cli:ann",
                at=cut + timedelta(minutes=5),  # after the run's data-interval end
            )
        )
    ctx = RunContext(WF, MONTH, RunRef(), labels_until=cut)

    with_labels, record = add_labelled(ctx, splits)

    assert record is not None
    assert record["included"] == [fresh]
    assert record["left_out"] == {"test_set": [leaked], "duplicate": [], "missing": []}
    rows = {row.path: row for row in read_manifest(train_root)}
    joined = rows[f"labelled/7/{fresh}.png"]
    assert (joined.label, joined.month, joined.decoded) == ("7", MONTH, True)
    assert not any(late in path for path in rows)
    assert len(with_labels["train"].rows) == len(splits["train"].rows) + 1
    verify_split(train_root)  # the manifest names every file the split holds

    outcome = validate_snapshot(workflow, MONTH, repo, home / "gx", home / "docs")
    failed = {result.check for result in outcome.failures()}
    assert "no_test_leakage" not in failed
    assert outcome.success, outcome.failures()

    # off: the snapshot is the deliveries' alone
    source = workflow.source.model_copy(update={"include_labelled": False})
    off = workflow.model_copy(update={"source": source})
    ctx_off = RunContext(WF, MONTH, RunRef(), labels_until=cut)
    ctx_off.__dict__["workflow"] = off  # the cached_property, as load_fleet would give it
    unchanged, none = add_labelled(ctx_off, splits)
    assert none is None and unchanged is splits
