"""`modelfleet zoo trial` for real: every family trains on digits (real Keras, a tiny budget),
is scored on the holdout and timed; the table lists them all and the recommendation
follows the rule. A second trial at a fixed epoch count repeats the first exactly.

About two minutes on two busy cores: most of it is tracing each family's graphs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from modelfleet.config import load_fleet
from modelfleet.training.architecture_trial import recommend, trial
from modelfleet.views import render_trial
from modelfleet.zoo import FAMILIES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_trial_of_every_family_recommends_by_the_rule(fleet_file: Path) -> None:
    lines: list[str] = []
    result = trial(load_fleet(fleet_file).get("digits"), budget_s=14, progress=lines.append)

    assert [r.family for r in result.results] == list(FAMILIES)
    for row in result.results:
        assert row.scored, row
        assert 0.0 <= row.macro_f1 <= 1.0 and 0.0 <= row.holdout_accuracy <= 1.0
        assert row.params > 0 and row.epochs >= 1 and row.serving_ms > 0
    assert result.recommendation == recommend(result.results)
    assert result.months == ("2026-04", "2026-05", "2026-06")
    console = Console(width=200, record=True)
    console.print(render_trial(result))
    table = console.export_text()
    for family in FAMILIES:
        assert f"│ {family} " in table
    (chosen_row,) = [row for row in table.splitlines() if row.startswith("│") and " * " in row]
    assert f"│ {result.recommendation.family} * " in chosen_row
    assert lines[0].startswith("digits: training on 2026-04, 2026-05, 2026-06")
    assert any(line.startswith("mobilenet: epoch 1,") for line in lines)  # progress per epoch


def test_a_trial_at_a_fixed_epoch_count_repeats_exactly(fleet_file: Path) -> None:
    digits = load_fleet(fleet_file).get("digits")

    first, second = (
        trial(digits, budget_s=3600, families=["lenet"], max_epochs=2) for _ in range(2)
    )

    (a,), (b,) = first.results, second.results
    assert a.epochs == b.epochs == 2
    assert (a.holdout_accuracy, a.macro_f1, a.params) == (b.holdout_accuracy, b.macro_f1, b.params)
    assert a.macro_f1 > 0.5  # two epochs of LeNet learn digits well past chance (0.1)
