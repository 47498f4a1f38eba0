"""registry.reader: which URLs psycopg2 reads alone, and the SQLAlchemy fallback that
keeps `modelfleet monitor`'s errors those of every other command."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from modelfleet.registry.reader import direct_query, libpq_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg2://u:p%40ss@h:5433/db", "postgresql://u:p%40ss@h:5433/db"),
        ("postgresql://u@h/db?host=/run/pg", "postgresql://u@h/db?host=/run/pg"),
        ("postgresql+psycopg://u@h/db", None),  # psycopg 3: SQLAlchemy's to read
        ("sqlite:///x.db", None),
    ],
)
def test_libpq_url(url, expected):
    assert libpq_url(url) == expected


def test_a_refused_connection_falls_back_to_sqlalchemy_and_fails_as_it_does(monkeypatch):
    monkeypatch.setenv("MODELFLEET_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/x")
    with pytest.raises(sa.exc.OperationalError), direct_query() as query:
        query("SELECT 1", {})
