"""A Keras callback that ends `fit` when its share of a time budget is spent.

Imports Keras: only the architecture trial (`training.architecture_trial`) imports this
module, when it trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras

EpochReport = Callable[[int, dict[str, Any], float], None]


class TimeBudget(keras.callbacks.Callback):
    """Stop training once `seconds` of training have passed.

    The clock starts when the first batch is done: that batch pays for tracing the train
    step (seconds for the deeper families, more on a busy machine), which is no measure of
    how fast a family learns. It is checked after every batch, so the epoch training stops
    in may be partial. `on_epoch(epoch, logs, seconds_since_fit_began)` hears each finished
    epoch (1-based).
    """

    def __init__(
        self,
        seconds: float,
        on_epoch: EpochReport | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.seconds = seconds
        self.on_epoch = on_epoch
        self.clock = clock
        self.fit_began = 0.0
        self.clock_started: float | None = None
        self.epochs_begun = 0
        self.spent = False  # True when the budget, not the epoch count, ended training

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.fit_began = self.clock()
        self.clock_started = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs_begun = epoch + 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = self.clock()
        if self.clock_started is None:
            self.clock_started = now
        elif now - self.clock_started >= self.seconds:
            self.spent = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, logs or {}, self.clock() - self.fit_began)
