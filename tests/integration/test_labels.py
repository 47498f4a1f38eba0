"""Labels from the floor against real Postgres: the store (latest wins, history, the
cut-off a snapshot reads, live accuracy per version), `modelfleet label` and the
`label` grant of applications."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.errors import InvalidLabel, NotFound
from modelfleet.registry.entities import NewPrediction
from modelfleet.registry.monitoring_tables import ImageLabelRow
from modelfleet.registry.store import applications, labels, predictions
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.settings import DATABASE_URL_ENV, HOME_ENV
from tests.conftest import create_database, drop_database
from tests.helpers.cli import usage_error
from tests.helpers.monitoring import add_version

pytestmark = pytest.mark.integration
CLASSES = ("ok", "scratch", "spot", "crack")
WF = "surface_line1"


def sha(n: int) -> str:
    return f"{n:064x}"


def _predict(session: Session, version_id: int, image: str, label: str) -> None:
    predictions.add_prediction(
        session,
        NewPrediction(
            model_version_id=version_id,
            image_sha256=image,
            label=label,
            score=0.9,
            scores={label: 0.9},
            source="stream",
            stored_path=None,
        ),
    )


def test_the_latest_label_wins_and_the_history_stays(db_session):
    v1 = add_version(db_session, WF, "v1.0.0")
    _predict(db_session, v1, sha(1), "ok")
    first = labels.add_label(
        db_session, WF, sha(1), "ok", classes=CLASSES, actor="cli:ann", reason="looked fine"
    )
    second = labels.add_label(
        db_session, WF, sha(1), "scratch", classes=CLASSES, actor="api:hmi", reason="a scratch"
    )
    history = labels.label_history(db_session, WF, sha(1))
    assert [(h.label, h.actor, h.reason) for h in history] == [
        ("ok", "cli:ann", "looked fine"),
        ("scratch", "api:hmi", "a scratch"),
    ]
    assert labels.latest_label(db_session, WF, sha(1)) == second
    assert first.at <= second.at


def test_a_label_outside_the_classes_or_of_an_unknown_image_is_refused(db_session):
    v1 = add_version(db_session, WF, "v1.0.0")
    _predict(db_session, v1, sha(1), "ok")
    with pytest.raises(InvalidLabel, match="'dent' is not one of its classes: ok, scratch"):
        labels.add_label(db_session, WF, sha(1), "dent", classes=CLASSES, actor="a")
    with pytest.raises(NotFound, match=f"no stored image or prediction with sha256 {sha(2)}"):
        labels.add_label(db_session, WF, sha(2), "ok", classes=CLASSES, actor="a")
    with pytest.raises(InvalidLabel, match="64 lowercase hex"):
        labels.add_label(db_session, WF, "abc", "ok", classes=CLASSES, actor="a")
    # the image is another workflow's: unknown to this one
    with pytest.raises(NotFound):
        labels.add_label(db_session, "surface_line2", sha(1), "ok", classes=CLASSES, actor="a")


def test_labels_until_reads_each_image_as_it_stood_at_the_cut_off(db_session):
    v1 = add_version(db_session, WF, "v1.0.0")
    for n in (1, 2):
        _predict(db_session, v1, sha(n), "ok")
    workflow_id = ensure_workflow(db_session, WF)
    cut = datetime(2026, 3, 1, tzinfo=UTC)
    for image, label, at in (
        (sha(1), "spot", cut - timedelta(days=2)),
        (sha(1), "crack", cut + timedelta(hours=1)),  # after the cut-off: not yet
        (sha(2), "scratch", cut + timedelta(days=1)),
    ):
        db_session.add(
            ImageLabelRow(
                workflow_id=workflow_id, image_sha256=image, label=label, actor="a", at=at
            )
        )
    db_session.flush()
    assert labels.labels_until(db_session, WF, cut) == {sha(1): "spot"}
    assert labels.labels_until(db_session, WF, cut + timedelta(days=2)) == {
        sha(1): "crack",
        sha(2): "scratch",
    }


def test_live_accuracy_per_version_changes_with_labels(db_session):
    v1 = add_version(db_session, WF, "v1.0.0")
    v2 = add_version(db_session, WF, "v1.1.0", month="2026-02")
    for n, (old, new) in enumerate((("ok", "ok"), ("ok", "scratch"), ("spot", "spot")), start=1):
        _predict(db_session, v1, sha(n), old)
        _predict(db_session, v2, sha(n), new)
    assert labels.live_accuracy(db_session, WF) == {}

    labels.add_label(db_session, WF, sha(2), "scratch", classes=CLASSES, actor="a")
    live = labels.live_accuracy(db_session, WF)
    assert (live["v1.0.0"].labelled, live["v1.0.0"].correct) == (1, 0)
    assert (live["v1.1.0"].labelled, live["v1.1.0"].correct) == (1, 1)

    labels.add_label(db_session, WF, sha(1), "ok", classes=CLASSES, actor="a")
    labels.add_label(db_session, WF, sha(3), "crack", classes=CLASSES, actor="a")
    live = labels.live_accuracy(db_session, WF)
    assert live["v1.0.0"].accuracy == pytest.approx(1 / 3)
    assert live["v1.1.0"].accuracy == pytest.approx(2 / 3)

    # the latest label wins: sha(3) was a spot after all
    labels.add_label(db_session, WF, sha(3), "spot", classes=CLASSES, actor="b", reason="oops")
    live = labels.live_accuracy(db_session, WF)
    assert (live["v1.0.0"].correct, live["v1.1.0"].correct) == (2, 3)


def test_an_application_may_label_only_with_the_label_grant(db_session):
    applications.create_application(
        db_session, "hmi", grants={WF: "production"}, actor="t", workflows=[WF]
    )
    assert applications.get_application(db_session, "hmi").labels == frozenset()
    before = applications.fingerprint(db_session)
    applications.set_grant(
        db_session, "hmi", WF, "production", actor="t", reason="r", workflows=[WF], label=True
    )
    assert applications.get_application(db_session, "hmi").labels == {WF}
    assert applications.fingerprint(db_session) != before  # the endpoint re-reads keys
    # a pin change alone keeps the label grant
    applications.set_grant(
        db_session, "hmi", WF, "candidate", actor="t", reason="r", workflows=[WF]
    )
    assert applications.get_application(db_session, "hmi").labels == {WF}


@pytest.fixture(scope="module")
def registry(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from modelfleet.registry import db

    url = create_database(pg_server, "mf_labels")
    db.migrate(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATABASE_URL_ENV, url)
        patch.setenv(HOME_ENV, str(tmp_path_factory.mktemp("home")))
        with Session(db.engine(url)) as session, session.begin():
            _predict(session, add_version(session, WF, "v1.0.0"), sha(7), "ok")
        yield url
    drop_database(url)


def test_modelfleet_label_records_the_label_with_actor_and_reason(registry, capsys):
    from modelfleet.registry import db

    argv = ["label", WF, sha(7), "scratch", "--reason", "seen on the line", "--actor", "ann"]
    assert main(argv) == 0
    assert f"{WF} {sha(7)}: labelled scratch by cli:ann" in capsys.readouterr().out
    with Session(db.engine(registry)) as session:
        (latest,) = labels.label_history(session, WF, sha(7))
    assert (latest.label, latest.actor, latest.reason) == ("scratch", "cli:ann", "seen on the line")


def test_modelfleet_label_refuses_what_it_cannot_record(registry, capsys):
    err = usage_error(["label", "surface_lin1", sha(7), "ok"], capsys)
    assert "unknown workflow 'surface_lin1'" in err
    err = usage_error(["label", WF, sha(7), "dent"], capsys)
    assert f"label 'dent' is not one of {WF}'s classes: ok, scratch, spot, crack" in err
    err = usage_error(["label", WF, "not-a-hash", "ok"], capsys)
    assert "64 lowercase hex" in err
    assert main(["label", WF, sha(8), "ok"]) == 1
    assert f"no stored image or prediction with sha256 {sha(8)}" in capsys.readouterr().err
    with Session(sa.create_engine(registry)) as session:
        assert labels.label_history(session, WF, sha(8)) == []


def test_the_lineage_shows_the_label_beside_the_prediction(registry, capsys):
    import json

    from modelfleet.registry import db
    from modelfleet.registry.store.lineage import prediction_lineage

    assert main(["label", WF, sha(7), "ok", "--actor", "bob", "--reason", "first look"]) == 0
    assert main(["label", WF, sha(7), "spot", "--actor", "ann", "--reason", "a spot"]) == 0
    capsys.readouterr()
    assert main(["lineage", sha(7), "--json"]) == 0
    chain = json.loads(capsys.readouterr().out)
    assert chain["prediction"]["label"] == "ok"  # what the model said
    assert (chain["labelled"]["label"], chain["labelled"]["actor"]) == ("spot", "cli:ann")
    assert [h["label"] for h in chain["labelled"]["history"]][-2:] == ["ok", "spot"]
    from rich.console import Console

    from modelfleet.views import render_lineage

    chain["training_run"]["params"] = {"params": {}}  # the helper's run records none
    shown = Console(record=True, width=300, file=io.StringIO())
    shown.print(render_lineage(chain))
    assert "labelled spot by cli:ann at" in shown.export_text()
    with Session(db.engine(registry)) as session:
        assert prediction_lineage(session, sha(7))["labelled"]["reason"] == "a spot"


def test_versions_show_live_accuracy_from_labels(registry, capsys):
    import json

    assert main(["label", WF, sha(7), "ok", "--actor", "ann"]) == 0  # v1.0.0 said ok
    capsys.readouterr()
    assert main(["versions", WF, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["version"], row["labelled"], row["live_accuracy"]) == ("v1.0.0", 1, 1.0)
    assert main(["label", WF, sha(7), "crack", "--actor", "ann"]) == 0
    capsys.readouterr()
    assert main(["versions", WF, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["live_accuracy"] == 0.0


def test_apps_grant_label_gives_the_grant_and_keeps_the_pin(registry, capsys):
    import json

    assert main(["apps", "create", "floor", "--grant", f"{WF}=candidate"]) == 0
    assert main(["apps", "grant", "floor", WF, "--label", "--reason", "line 1 HMI"]) == 0
    assert f"floor: {WF}=candidate (label: yes)" in capsys.readouterr().out
    assert main(["apps", "list", "--json"]) == 0
    floor = next(a for a in json.loads(capsys.readouterr().out) if a["name"] == "floor")
    assert (floor["grants"], floor["label"]) == ({WF: "candidate"}, [WF])
    assert main(["apps", "grant", "floor", WF, "--no-label", "--reason", "moved"]) == 0
    assert "(label: no)" in capsys.readouterr().out
    assert main(["apps", "list", "--json"]) == 0
    floor = next(a for a in json.loads(capsys.readouterr().out) if a["name"] == "floor")
    assert (floor["grants"], floor["label"]) == ({WF: "candidate"}, [])
