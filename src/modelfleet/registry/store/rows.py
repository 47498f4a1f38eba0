"""A record dataclass written as a table row. Its fields are the row's columns, by name
(`tests/unit/registry/test_entities.py` holds them to it), except two: `workflow`, a name,
is stored as the row's `workflow_id`, and `run` (a `RunRef`) as its dag_id, run_id and
code_sha."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import Base

_Row = TypeVar("_Row", bound=Base)


def insert(session: Session, table: type[_Row], record: Any, **columns: Any) -> _Row:
    """Add the record as a row of `table` and flush it (so its id is known); `columns`
    override the record's fields where the row stores something else."""
    values: dict[str, Any] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if field.name == "workflow":
            values["workflow_id"] = ensure_workflow(session, value)
        elif field.name == "run":
            values.update(value.columns())
        else:
            values[field.name] = value
    row = table(**{**values, **columns})
    session.add(row)
    session.flush()
    return row
