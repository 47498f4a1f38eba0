"""Shadow answers: the candidate's answer to a mirrored copy of a production request,
beside production's (release.shadow_fraction), and the agreement between the two."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelfleet.registry.monitoring_tables import ShadowAnswerRow
from modelfleet.registry.store.monitoring import PredictionLogWriter, copy_into, text_field

# (workflow, production version, candidate version, production label, candidate label, at)
ShadowEntry = tuple[str, str, str, str, str, datetime]


SHADOW_ANSWER_COLUMNS = (
    "workflow_id",
    "production_version_id",
    "candidate_version_id",
    "production_label",
    "candidate_label",
    "at",
)


class ShadowWriter:
    """Writes shadow entries with one COPY per batch, as the prediction log does; entries
    naming a workflow or version the registry does not know are skipped. Returns the
    rows written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ids = PredictionLogWriter(engine)  # its cached (workflow, version) -> ids

    def __call__(self, entries: list[ShadowEntry]) -> int:
        out = io.StringIO()
        written = 0
        for workflow, production, candidate, produced, answered, at in entries:
            prod = self._ids.ids(workflow, production)
            cand = self._ids.ids(workflow, candidate)
            if prod is None or cand is None or prod[1] is None or cand[1] is None:
                continue
            out.write(
                f"{prod[0]}\t{prod[1]}\t{cand[1]}\t{text_field(produced)}\t"
                f"{text_field(answered)}\t{at.isoformat()}\n"
            )
            written += 1
        if written:
            out.seek(0)
            copy_into(self.engine, "shadow_answer", SHADOW_ANSWER_COLUMNS, out)
        return written


@dataclass(frozen=True)
class Agreement:
    """How often the candidate answered as production did, overall and per class
    (the class production answered)."""

    answered: int
    agreed: int
    per_class: dict[str, tuple[int, int]] = field(default_factory=dict)  # class -> (n, agreed)

    @property
    def rate(self) -> float | None:
        return None if self.answered == 0 else self.agreed / self.answered

    def as_dict(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "agreed": self.agreed,
            "agreement": self.rate,
            "per_class": {
                label: {"answered": n, "agreed": a, "agreement": a / n}
                for label, (n, a) in sorted(self.per_class.items())
            },
        }


def agreement(session: Session, candidate_version_id: int) -> Agreement:
    """The agreement of every shadow answer a candidate version gave."""
    agreed = sa.func.count().filter(
        ShadowAnswerRow.production_label == ShadowAnswerRow.candidate_label
    )
    rows = session.execute(
        sa.select(ShadowAnswerRow.production_label, sa.func.count(), agreed)
        .where(ShadowAnswerRow.candidate_version_id == candidate_version_id)
        .group_by(ShadowAnswerRow.production_label)
    ).all()
    per_class = {str(label): (int(n), int(a)) for label, n, a in rows}
    return Agreement(
        answered=sum(n for n, _ in per_class.values()),
        agreed=sum(a for _, a in per_class.values()),
        per_class=per_class,
    )
