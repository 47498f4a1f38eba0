"""A record dataclass written as a table row, and a row read back as an entity. Their
fields are the row's columns, by name (`tests/unit/registry/test_entities.py` holds them
to it), except two: `workflow`, a name, is stored as the row's `workflow_id`, and `run`
(a `RunRef`) as its dag_id, run_id and code_sha."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import Base

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Row = TypeVar("_Row", bound=Base)
_Entity = TypeVar("_Entity", bound="DataclassInstance")


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


def entity(cls: type[_Entity], row: object, **values: Any) -> _Entity:
    """The plain object of a row: each of the entity's dataclass fields is the column of
    that name, except those `values` gives (what the row stores elsewhere, like `workflow`)."""
    return cls(
        **{
            field.name: values[field.name] if field.name in values else getattr(row, field.name)
            for field in fields(cls)
        }
    )
