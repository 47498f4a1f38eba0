"""Which CNN family fits a workflow's data: train each one briefly and compare.

`trial(workflow, budget_s)` reads the latest months the workflow's data source holds
(`datasets.sources`), converts them with the workflow's own preprocessing
(`imaging.to_model_input`), and trains every zoo family on their training images for an
equal share of the budget (`training.time_budget.TimeBudget` stops `fit` when the share is
spent; the first batch, which traces the graph, is not counted). Each is scored on the
same months' holdout images and timed as it would serve: a compiled inference function
on a batch of the workflow's `serving.max_batch_size`. The recommendation is the best
holdout macro-F1; families within `TIE_MARGIN` of it tie, and a tie goes to the fewest
serving milliseconds per image (`recommend`, a pure rule).

Seeded (`params.seed` before each family, op determinism on): when `max_epochs` ends
training before the budget does, a trial repeats exactly. How far a family gets within
its share of the budget depends on the machine and its load.

TensorFlow is imported when a trial runs, never when this module is imported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelfleet.config import Workflow
from modelfleet.datasets.sources import source_for, source_months
from modelfleet.errors import ConfigError, DataError, NoDataForMonth
from modelfleet.imaging import decode, to_model_input
from modelfleet.training.determinism import make_deterministic
from modelfleet.training.metrics import classification_metrics
from modelfleet.zoo import FAMILIES, build

if TYPE_CHECKING:
    import keras

DEFAULT_BUDGET_S = 600.0
TRIAL_MONTHS = 3  # the latest months of data the trial trains on (fewer if fewer exist)
MAX_EPOCHS = 10_000  # the budget ends training long before this
TIE_MARGIN = 0.005  # macro-F1 within this of the best is a tie
TIMING_MIN_S = 0.5  # time serving for at least this long...
TIMING_MIN_CALLS = 5  # ...and this many batches

Progress = Callable[[str], None]


@dataclass(frozen=True)
class FamilyResult:
    family: str
    holdout_accuracy: float | None = None
    macro_f1: float | None = None
    params: int | None = None
    epochs: int = 0  # epochs begun; the last one may be cut short by the budget
    train_s: float = 0.0
    serving_ms: float | None = None  # per image, in batches of serving.max_batch_size
    error: str | None = None  # why the family could not be tried on this data

    @property
    def scored(self) -> bool:
        return self.macro_f1 is not None and self.serving_ms is not None


@dataclass(frozen=True)
class Recommendation:
    family: str
    reason: str
    tied: tuple[str, ...] = ()  # the families within `margin` of the best macro-F1
    margin: float = TIE_MARGIN


@dataclass(frozen=True)
class TrialData:
    months: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_holdout: np.ndarray
    y_holdout: np.ndarray
    left_out: int = 0  # files that do not decode or carry no class of the workflow


@dataclass(frozen=True)
class TrialResult:
    workflow: str
    months: tuple[str, ...]
    n_train: int
    n_holdout: int
    budget_s: float
    results: tuple[FamilyResult, ...]
    recommendation: Recommendation
    left_out: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(results: Sequence[FamilyResult], margin: float = TIE_MARGIN) -> Recommendation:
    """The best holdout macro-F1; within `margin` of it, the fewest serving ms per image."""
    scored = [r for r in results if r.scored]
    if not scored:
        tried = ", ".join(f"{r.family}: {r.error or 'not scored'}" for r in results)
        raise DataError(f"no family could be trained and scored on this data ({tried})")
    # The ignores below: a scored result has macro_f1 and serving_ms (`scored`), which
    # mypy cannot see through the property.
    best = max(r.macro_f1 for r in scored)  # type: ignore[type-var]
    # A hair of slack so that a difference of exactly `margin` counts as a tie.
    tied = [r for r in scored if best - r.macro_f1 <= margin + 1e-9]  # type: ignore[operator]
    chosen = min(tied, key=lambda r: (r.serving_ms, -r.macro_f1, r.family))  # type: ignore[operator]
    if len(tied) == 1:
        reason = f"{chosen.family}: the best holdout macro-F1 ({chosen.macro_f1:.3f})"
    else:
        others = ", ".join(r.family for r in tied if r is not chosen)
        reason = (
            f"{chosen.family}: macro-F1 {chosen.macro_f1:.3f} ties with {others} (within "
            f"{margin} of the best, {best:.3f}); it serves fastest "
            f"({chosen.serving_ms:.3f} ms/image)"
        )
    return Recommendation(chosen.family, reason, tuple(r.family for r in tied), margin)


def trial(
    workflow: Workflow,
    budget_s: float = DEFAULT_BUDGET_S,
    *,
    families: Sequence[str] | None = None,
    months: int = TRIAL_MONTHS,
    max_epochs: int = MAX_EPOCHS,
    progress: Progress | None = None,
) -> TrialResult:
    """Train each family for `budget_s / len(families)` seconds and recommend one.

    Args:
        workflow: the workflow whose data source and preprocessing to use (it need not
            be in the fleet yet: `workflow add --architecture auto` passes its draft).
        budget_s: training time for all families together. On top of it, each family
            pays for its first batch (tracing the train step), scoring and timing.
        families: the families to try (default: the whole zoo, in registry order).
        months: how many of the latest months to train and score on.
        max_epochs: an upper bound on epochs (set it to repeat a trial exactly).
        progress: hears one line per step (data, each epoch, each family's scores).
    """
    say = progress or (lambda _line: None)
    names = list(families or FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise ConfigError(f"families {unknown or names} are not among {', '.join(FAMILIES)}")
    if not budget_s > 0:
        raise ConfigError(f"the trial budget must be positive seconds, got {budget_s}")
    data = trial_data(workflow, months)
    say(
        f"{workflow.name}: training on {', '.join(data.months)}: {len(data.y_train)} train, "
        f"{len(data.y_holdout)} holdout images"
        + (f" ({data.left_out} left out: undecodable or not a class)" if data.left_out else "")
    )
    make_deterministic(workflow.params.seed)
    share = budget_s / len(names)
    results = []
    for i, name in enumerate(names, 1):
        say(f"{name} ({i}/{len(names)}): up to {share:.0f} s of training")
        results.append(_try_family(name, workflow, data, share, max_epochs, say))
    return TrialResult(
        workflow=workflow.name,
        months=data.months,
        n_train=len(data.y_train),
        n_holdout=len(data.y_holdout),
        budget_s=budget_s,
        results=tuple(results),
        recommendation=recommend(results),
        left_out=data.left_out,
        seed=workflow.params.seed,
    )


def trial_data(workflow: Workflow, months: int = TRIAL_MONTHS) -> TrialData:
    """The latest `months` months of the source as model inputs: train and holdout."""
    if months < 1:
        raise ConfigError(f"a trial needs at least one month, got {months}")
    source = source_for(workflow)
    index = {label: i for i, label in enumerate(workflow.classes)}
    chosen: list[str] = []
    splits: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "holdout": []}
    left_out = 0
    for month in reversed(source_months(workflow)):
        if len(chosen) == months:
            break
        try:
            split = source.month(month)
        except NoDataForMonth:
            continue  # a gap in the months: the window holds what there is
        chosen.append(month)
        for name, images in (("train", split.train), ("holdout", split.holdout)):
            for image in images:
                converted = _model_input(workflow, image.data)
                if converted is None or image.label not in index:
                    left_out += 1
                    continue
                splits[name].append((converted, index[image.label]))
    if not chosen:
        raise DataError(f"workflow {workflow.name!r}: its source holds no month of data")
    for name, rows in splits.items():
        if not rows:
            raise DataError(
                f"workflow {workflow.name!r}: no usable {name} images in {', '.join(chosen)}"
            )
    trained_classes = {label for _, label in splits["train"]}
    if len(trained_classes) < 2:
        raise DataError(
            f"workflow {workflow.name!r}: the training images of {', '.join(chosen)} hold "
            f"{len(trained_classes)} class; a trial needs at least 2"
        )
    x_train, y_train = _stack(splits["train"])
    x_holdout, y_holdout = _stack(splits["holdout"])
    return TrialData(tuple(sorted(chosen)), x_train, y_train, x_holdout, y_holdout, left_out)


def _model_input(workflow: Workflow, data: bytes) -> np.ndarray | None:
    """The workflow's preprocessing of one file, or None if it does not decode."""
    try:
        return to_model_input(decode(data), workflow.input_shape, workflow.preprocess)
    except DataError:
        return None


def _stack(rows: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([x for x, _ in rows]), np.array([y for _, y in rows], dtype=np.int64)


def _try_family(
    name: str,
    workflow: Workflow,
    data: TrialData,
    share_s: float,
    max_epochs: int,
    say: Progress,
) -> FamilyResult:
    import keras

    from modelfleet.training.time_budget import TimeBudget  # imports Keras: only when training

    keras.backend.clear_session()  # each family starts from the same seed and a clean graph
    keras.utils.set_random_seed(workflow.params.seed)
    try:
        model = build(name, workflow.input_shape, len(workflow.classes))
    except ConfigError as exc:  # e.g. images too small for the family's downsampling
        say(f"{name}: not tried: {exc}")
        return FamilyResult(name, error=str(exc))
    model.compile(
        optimizer=keras.optimizers.Adam(workflow.params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    def epoch_done(epoch: int, logs: dict[str, Any], elapsed: float) -> None:
        say(
            f"{name}: epoch {epoch}, {elapsed:.1f} s, loss {logs.get('loss', float('nan')):.3f}, "
            f"accuracy {logs.get('accuracy', float('nan')):.3f}"
        )

    budget = TimeBudget(share_s, on_epoch=epoch_done)
    started = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        epochs=max_epochs,
        batch_size=workflow.params.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[budget],
    )
    train_s = time.perf_counter() - started
    infer = _compiled(model, workflow.input_shape)
    batch = workflow.serving.max_batch_size
    probs = np.concatenate(
        [infer(data.x_holdout[i : i + batch]) for i in range(0, len(data.x_holdout), batch)]
    )
    scores = classification_metrics(data.y_holdout, probs, workflow.classes)
    serving_ms = _serving_ms(infer, data.x_holdout, batch)
    result = FamilyResult(
        family=name,
        holdout_accuracy=scores["accuracy"],
        macro_f1=scores["macro_f1"],
        params=model.count_params(),
        epochs=budget.epochs_begun,
        train_s=train_s,
        serving_ms=serving_ms,
    )
    say(
        f"{name}: holdout accuracy {result.holdout_accuracy:.3f}, macro-F1 "
        f"{result.macro_f1:.3f}, {result.epochs} epochs in {train_s:.1f} s, "
        f"{serving_ms:.3f} ms/image"
    )
    return result


def _compiled(
    model: keras.Model, input_shape: tuple[int, int, int]
) -> Callable[[np.ndarray], np.ndarray]:
    """Inference as the endpoint runs it: one traced graph for any batch size."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, *input_shape], tf.float32)
    graph = tf.function(lambda batch: model(batch, training=False), input_signature=[spec])

    def infer(batch: np.ndarray) -> np.ndarray:
        return graph(tf.constant(batch, dtype=tf.float32)).numpy()

    return infer


def _serving_ms(
    infer: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch_size: int
) -> float:
    """Median milliseconds per image over full batches (the holdout repeated to fill one)."""
    batch = np.resize(images, (batch_size, *images.shape[1:]))
    infer(batch)  # warm: the first call of a shape pays for memory allocation
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < TIMING_MIN_CALLS or time.perf_counter() - began < TIMING_MIN_S:
        tick = time.perf_counter()
        infer(batch)
        times.append(time.perf_counter() - tick)
    return statistics.median(times) * 1000 / batch_size
