"""The CI sample of tests run alone (tests/sample_alone.py): the seed fixes the draw,
and integration tests are capped."""

from __future__ import annotations

from tests.sample_alone import sample

UNIT = [f"tests/unit/test_a.py::test_{i}" for i in range(30)]
INTEGRATION = [f"tests/integration/test_b.py::test_{i}" for i in range(30)]


def test_the_seed_fixes_the_draw_whatever_the_collection_order():
    ids = UNIT + INTEGRATION
    drawn = sample(ids, 20261204, 10, 3)
    assert drawn == sample(list(reversed(ids)), 20261204, 10, 3)
    assert len(drawn) == len(set(drawn)) == 10
    assert sample(ids, 20261205, 10, 3) != drawn


def test_at_most_the_cap_comes_from_the_integration_tests():
    for seed in range(50):
        drawn = sample(UNIT[:8] + INTEGRATION, seed, 10, 3)
        assert sum(i.startswith("tests/integration/") for i in drawn) <= 3
        assert len(drawn) == min(10, 8 + 3)


def test_a_small_suite_is_run_whole():
    assert sorted(sample(UNIT[:4], 1, 10, 3)) == sorted(UNIT[:4])
