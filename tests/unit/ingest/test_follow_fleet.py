"""The stream classifier follows the fleet between scans: a workflow added to or
archived from workflows.d changes the landing folders it watches, with no restart."""

from __future__ import annotations

import yaml

from modelfleet.config import load_fleet
from modelfleet.ingest.watcher import Ingestor
from modelfleet.settings import CHECKOUT, get_settings

PHOTOS = {
    "source": {"kind": "folder", "url": "/data/p", "test_fraction": 0.2},
    "classes": ["a", "b"],
    "input_shape": [32, 32, 3],
    "architecture": "lenet",
    "ingest": {"webhook": "http://127.0.0.1:9/hook"},
}


def test_added_and_archived_workflows_change_what_is_watched(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    user_dir = tmp_path / "workflows.d"
    user_dir.mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "modelfleet-ingest.key").write_text("mf_000000000000_unused\n")

    def fleet():  # type: ignore[no-untyped-def]
        return load_fleet(CHECKOUT / "workflows.yaml", user_dir)

    # No connection is made until a scan: the URL only has to parse.
    ingestor = Ingestor(
        get_settings(), fleet(), "postgresql+psycopg2://nobody@127.0.0.1:9/none", fleet_loader=fleet
    )
    assert "photos" not in ingestor.workflows
    assert ingestor.follow_fleet() is False  # unchanged files: the same fleet

    (user_dir / "photos.yaml").write_text(yaml.safe_dump({"workflows": {"photos": PHOTOS}}))
    assert ingestor.follow_fleet() is True
    assert "photos" in ingestor.workflows and ingestor.fleet.get("photos")
    assert ingestor.webhooks.urls["photos"] == "http://127.0.0.1:9/hook"

    (user_dir / "photos.yaml").write_text("workflows: {photos: [")  # half saved by hand
    assert ingestor.follow_fleet() is False
    assert "photos" in ingestor.workflows  # the fleet known before stays

    (user_dir / "photos.yaml").unlink()
    assert ingestor.follow_fleet() is True
    assert "photos" not in ingestor.workflows and "photos" not in ingestor.webhooks.urls
