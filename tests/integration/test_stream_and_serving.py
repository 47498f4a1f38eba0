"""The stream classifier against a released model, through the live endpoint."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from modelfleet.registry.store import predictions
from modelfleet.registry.store.lineage import prediction_lineage
from tests.integration.conftest import frozen_test_image
from tests.integration.test_retrain_dag import production, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def released(platform):
    if production(platform) is None:
        state, tasks = run_dag("2026-01")
        assert state == "success", tasks
    return platform


def _png(value: int = 200, size=(28, 28)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def test_good_file_lands_in_lake_and_corrupt_file_in_quarantine(released, capsys):
    from modelfleet import db
    from modelfleet.cli import main
    from modelfleet.ingest.watcher import Ingestor
    from modelfleet.settings import get_settings

    settings = get_settings()
    landing = settings.landing / "digits"
    landing.mkdir(parents=True, exist_ok=True)
    test_image = frozen_test_image()
    good = landing / "cam1_good.png"
    good.write_bytes(test_image)
    bad = landing / "cam1_bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    partial = landing / "cam1_incoming.png.part"
    partial.write_bytes(b"half written")
    import os
    import time

    old = time.time() - 10  # settled
    for path in (good, bad):
        os.utime(path, (old, old))

    ingestor = Ingestor(settings, ["digits"], released.database_url)
    counts = ingestor.scan_once()
    assert counts == {"stored": 1, "quarantined": 1}
    assert not good.exists() and not bad.exists()
    assert partial.exists()  # never read half-way

    quarantined = list((settings.quarantine / "digits").rglob("cam1_bad.png"))
    assert len(quarantined) == 1
    reason = quarantined[0].with_name("cam1_bad.png.reason.txt").read_text()
    assert "not a decodable image" in reason

    import hashlib

    sha = hashlib.sha256(test_image).hexdigest()
    stored = list((settings.lake / "digits").rglob(f"{sha}.*"))
    assert sorted(p.suffix for p in stored) == [".json", ".png"]
    with Session(db.engine(released.database_url)) as session:
        chain = prediction_lineage(session, sha)
        state = predictions.ingest_state(session, "digits", sha)
        assert state is not None and state.state == predictions.STORED
    assert chain["model_version"]["version"] == production(released)
    assert chain["dataset_version"]["month"]
    assert chain["validation"]["success"] is True
    assert chain["training_run"]["dag_id"] == "retrain__digits"

    # Same bytes again: recorded as a duplicate, not classified twice.
    again = landing / "cam2_same.png"
    again.write_bytes(test_image)
    os.utime(again, (old, old))
    assert ingestor.scan_once() == {"duplicate": 1}
    with Session(db.engine(released.database_url)) as session:
        assert len(predictions.find_predictions(session, sha)) == 1

    # The CLI answers "why did the model say that?" in one call.
    assert main(["lineage", sha, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["prediction"]["image_sha256"] == sha
