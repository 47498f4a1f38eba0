"""Entities and records against the tables: every field of an entity the store builds
from a row is a column of that row's table, and every field of a record the store
writes is one too (besides `workflow` and `run`, which the store resolves)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from modelfleet.registry import entities, tables

READ = [
    (entities.DatasetVersion, tables.DatasetVersionRow),
    (entities.Validation, tables.ValidationRow),
    (entities.TrainingRun, tables.TrainingRunRow),
    (entities.Evaluation, tables.EvaluationRow),
    (entities.GateDecision, tables.GateDecisionRow),
]
WRITTEN = [
    (entities.NewDatasetVersion, tables.DatasetVersionRow),
    (entities.NewValidation, tables.ValidationRow),
    (entities.NewTrainingRun, tables.TrainingRunRow),
    (entities.NewEvaluation, tables.EvaluationRow),
    (entities.NewGateDecision, tables.GateDecisionRow),
    (entities.NewVersion, tables.ModelVersionRow),
    (entities.NewPrediction, tables.PredictionRow),
]


def _columns(table: type[tables.Base]) -> set[str]:
    return {column.name for column in table.__table__.columns}


@pytest.mark.parametrize(("entity", "table"), READ, ids=lambda x: x.__name__)
def test_entity_fields_are_columns(entity, table):
    assert {f.name for f in fields(entity)} <= _columns(table)


@pytest.mark.parametrize(("record", "table"), WRITTEN, ids=lambda x: x.__name__)
def test_record_fields_are_columns(record, table):
    assert {f.name for f in fields(record)} - {"workflow", "run"} <= _columns(table)


def test_records_are_keyword_only():
    with pytest.raises(TypeError):
        entities.NewEvaluation(1, "candidate", "test", {}, None, entities.RunRef())
