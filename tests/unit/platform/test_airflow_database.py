"""Airflow's metadata database sits beside the lineage database, one per platform."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from modelfleet.registry.db import airflow_database_url


def _name(url: str) -> str | None:
    return make_url(url).database


def test_beside_the_default_lineage_database_it_is_airflow() -> None:
    assert _name(airflow_database_url("postgresql://u@db:5432/modelfleet")) == "airflow"


def test_platforms_with_their_own_lineage_databases_get_their_own_airflow_database() -> None:
    year = airflow_database_url("postgresql://postgres@127.0.0.1:5432/mf_year")
    demo = airflow_database_url("postgresql://postgres@127.0.0.1:5432/mf_demo")

    assert _name(year) == "mf_year_airflow"
    assert _name(demo) == "mf_demo_airflow"
    assert make_url(year).host == "127.0.0.1"
