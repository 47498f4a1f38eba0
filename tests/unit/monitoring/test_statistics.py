"""Each monitor statistic on synthetic data: small without drift, large with it."""

from __future__ import annotations

import numpy as np
import pytest

from modelfleet.monitoring import statistics as st


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_psi_is_small_for_the_same_distribution_and_large_for_a_darker_one(rng):
    reference = rng.normal(0.5, 0.1, 2000)
    assert st.psi(reference, rng.normal(0.5, 0.1, 1000)) < 0.05
    assert st.psi(reference, rng.normal(0.3, 0.1, 1000)) > 1.0  # darkened images


def test_psi_handles_a_constant_reference(rng):
    assert st.psi(np.full(100, 0.5), np.full(50, 0.5)) == pytest.approx(0.0)
    assert st.psi(np.full(100, 0.5), rng.uniform(0, 0.4, 50)) > 1.0


def test_psi_needs_values():
    with pytest.raises(ValueError, match="both sides"):
        st.psi([], [0.1])


def test_share_psi_of_class_shares():
    reference = {"ok": 0.5, "scratch": 0.3, "dent": 0.2}
    assert st.share_psi(reference, {"ok": 0.52, "scratch": 0.29, "dent": 0.19}) < 0.01
    assert st.share_psi(reference, {"ok": 0.1, "scratch": 0.1, "dent": 0.8}) > 0.5
    # a class the evaluation never predicted counts as a large shift
    assert st.share_psi(reference, {"ok": 0.4, "scratch": 0.3, "dent": 0.1, "new": 0.2}) > 0.2


def test_shares():
    assert st.shares(["a", "b", "a", "a"]) == {"a": 0.75, "b": 0.25}
    assert st.shares([]) == {}


def test_mmd2_is_near_zero_without_drift_and_large_with_a_shift(rng):
    reference = rng.normal(0, 1, (400, 8))
    same = st.mmd2(reference, rng.normal(0, 1, (300, 8)))
    shifted = st.mmd2(reference, rng.normal(0.8, 1, (300, 8)))
    assert abs(same) < 0.01
    assert shifted > 0.1


def test_mmd2_subsamples_large_samples(rng):
    reference = rng.normal(0, 1, (5000, 8))
    assert abs(st.mmd2(reference, rng.normal(0, 1, (5000, 8)), rows=200)) < 0.03


def test_mmd2_needs_two_rows(rng):
    with pytest.raises(ValueError, match="at least 2 rows"):
        st.mmd2(rng.normal(0, 1, (10, 8)), rng.normal(0, 1, (1, 8)))


def test_low_share():
    assert st.low_share(np.array([0.9, 0.4, 0.3, 0.95]), 0.5) == 0.5
    assert st.low_share(np.array([]), 0.5) == 0.0
