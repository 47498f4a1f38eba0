"""registry.store.shadow.ShadowWriter: one COPY per batch into a real shadow_answer, the
entries of unknown workflows or versions skipped, text that COPY would misread escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.store.shadow import ShadowWriter, agreement
from tests.helpers.monitoring import add_version

WF = "shadow_writer_wf"  # this test's own workflow in the session's database


def test_copy_writes_known_entries_and_agreement_reads_them(database_url):
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            add_version(session, WF, "v1.0.0")
            candidate = add_version(session, WF, "v1.1.0", month="2026-02")
        at = datetime(2026, 12, 4, 12, tzinfo=UTC)
        entries = [
            (WF, "v1.0.0", "v1.1.0", "ok", "ok", at),
            (WF, "v1.0.0", "v1.1.0", "ok", "tab\there\\", at),  # escaped for COPY
            (WF, "v1.0.0", "v9.9.9", "ok", "ok", at),  # no such candidate
            ("nope", "v1.0.0", "v1.1.0", "ok", "ok", at),  # no such workflow
        ]
        assert ShadowWriter(engine)(entries) == 2
        with Session(engine) as session:
            found = agreement(session, candidate)
            labels = session.execute(
                sa.text(
                    "SELECT candidate_label, at FROM shadow_answer "
                    "WHERE candidate_version_id = :v ORDER BY id"
                ),
                {"v": candidate},
            ).all()
        assert (found.answered, found.agreed) == (2, 1)
        assert [label for label, _ in labels] == ["ok", "tab\there\\"]
        assert labels[0][1] == at
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM shadow_answer WHERE candidate_version_id = :v"),
                {"v": candidate},
            )
        engine.dispose()
