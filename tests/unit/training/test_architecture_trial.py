"""The architecture trial's recommendation rule, its time budget and its data, without training."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from modelfleet.config import Fleet, load_fleet
from modelfleet.errors import ConfigError, DataError
from modelfleet.training.architecture_trial import (
    TIE_MARGIN,
    FamilyResult,
    recommend,
    trial,
    trial_data,
)
from modelfleet.training.time_budget import TimeBudget


def scored(family: str, macro_f1: float, serving_ms: float) -> FamilyResult:
    return FamilyResult(
        family, holdout_accuracy=macro_f1, macro_f1=macro_f1, serving_ms=serving_ms, params=1
    )


def test_the_best_macro_f1_wins_whatever_it_costs_to_serve() -> None:
    chosen = recommend(
        [scored("lenet", 0.80, 0.05), scored("resnet", 0.90, 1.20), scored("vgg", 0.86, 0.50)]
    )

    assert (chosen.family, chosen.tied) == ("resnet", ("resnet",))
    assert chosen.reason == "resnet: the best holdout macro-F1 (0.900)"


def test_a_tie_goes_to_the_fewest_serving_ms_and_says_so() -> None:
    chosen = recommend(
        [
            scored("resnet", 0.900, 1.20),
            scored("lenet", 0.900 - TIE_MARGIN, 0.05),  # exactly at the margin: a tie
            scored("vgg", 0.897, 0.50),
            scored("alexnet", 0.894, 0.01),  # 0.006 behind: no tie, however fast
        ]
    )

    assert chosen.family == "lenet"
    assert set(chosen.tied) == {"resnet", "lenet", "vgg"}
    assert chosen.reason.startswith("lenet: macro-F1 0.895 ties with resnet, vgg (within 0.005")
    assert "serves fastest (0.050 ms/image)" in chosen.reason


def test_families_that_could_not_be_tried_are_never_recommended() -> None:
    too_small = FamilyResult("vgg", error="vgg needs images of at least 32x32 pixels, got 8x8")

    assert recommend([too_small, scored("lenet", 0.1, 9.0)]).family == "lenet"
    with pytest.raises(DataError, match=r"no family could be trained.*vgg: vgg needs images"):
        recommend([too_small])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_stops_fit_mid_epoch_not_counting_the_first_batch() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    clock = FakeClock()
    batches: list[int] = []

    class Tick(keras.callbacks.Callback):
        """Each batch takes one fake second; the first (tracing) ten."""

        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            batches.append(batch)
            clock.now += 10.0 if len(batches) == 1 else 1.0

    epochs: list[int] = []
    budget = TimeBudget(3.5, on_epoch=lambda epoch, logs, s: epochs.append(epoch), clock=clock)
    x, y = np.zeros((8, 2), dtype=np.float32), np.zeros(8, dtype=np.int64)
    model.fit(x, y, batch_size=2, epochs=50, verbose=0, callbacks=[Tick(), budget])

    # 4 batches an epoch; the clock starts after the first: 4 more seconds reach 3.5.
    assert len(batches) == 5
    assert budget.spent and budget.epochs_begun == 2
    assert epochs == [1, 2]  # the second, cut short, still ends as an epoch


def test_epochs_end_fit_before_a_generous_budget() -> None:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    budget = TimeBudget(3600)
    x, y = np.zeros((4, 2), dtype=np.float32), np.zeros(4, dtype=np.int64)
    model.fit(x, y, batch_size=2, epochs=3, verbose=0, callbacks=[budget])

    assert (budget.epochs_begun, budget.spent) == (3, False)


@pytest.fixture()
def fleet(fleet_file: Path) -> Fleet:
    return load_fleet(fleet_file)


def test_trial_data_is_the_latest_months_in_the_workflows_input_shape(fleet: Fleet) -> None:
    digits = fleet.get("digits")  # six months from 2026-01, 28x28 grey

    data = trial_data(digits, months=2)

    assert data.months == ("2026-05", "2026-06")
    assert data.x_train.shape[1:] == (28, 28, 1) and data.x_holdout.shape[1:] == (28, 28, 1)
    assert len(data.x_train) == len(data.y_train) > 300 and len(data.y_holdout) > 50
    assert set(data.y_train) == set(range(10)) and data.left_out == 0
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0


def test_a_trial_refuses_a_bad_budget_or_family_before_reading_data(fleet: Fleet) -> None:
    digits = fleet.get("digits")
    with pytest.raises(ConfigError, match="budget must be positive"):
        trial(digits, 0)
    with pytest.raises(ConfigError, match=r"families \['resnt'\] are not among lenet"):
        trial(digits, 60, families=["lenet", "resnt"])


def test_the_table_marks_the_pick_and_its_ties_and_says_why_a_family_was_not_tried() -> None:
    from rich.console import Console

    from modelfleet.training.architecture_trial import TrialResult
    from modelfleet.views import render_trial

    rows = (
        scored("resnet", 0.900, 1.20),
        scored("lenet", 0.898, 0.05),
        scored("vgg", 0.700, 0.50),
        FamilyResult("alexnet", error="alexnet needs images of at least 64x64 pixels, got 28x28"),
    )
    result = TrialResult("digits", ("2026-06",), 100, 20, 60.0, rows, recommend(rows))
    console = Console(width=80, record=True)
    console.print(render_trial(result))
    text = console.export_text()

    assert "│ lenet *  │" in text and "│ resnet = │" in text and "│ vgg      │" in text
    assert text.index("resnet") < text.index("lenet") < text.index("vgg")  # best first
    assert "alexnet not tried: alexnet needs images of at least 64x64 pixels" in " ".join(
        text.split()
    )
    assert max(len(line) for line in text.splitlines()) <= 80
