"""The model pool: which versions are loaded, and what each alias serves.

Version policy, per workflow: the production version, the one it replaced
(instant rollback), `candidate` if any, and every version an application pins.
Anything else is unloaded. The registry watcher computes that set (`Wanted`)
and calls `apply`, which loads and warms new versions first, then swaps the
whole view in one assignment. A request holds the `LoadedModel` it resolved, so
in-flight requests finish on the version they started on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelfleet.config import ServingPolicy
from modelfleet.errors import ModelNotFound, ModelNotReady
from modelfleet.naming import PRODUCTION, Version, serving_dir
from modelfleet.preprocessing import LEGACY, PreprocessPolicy
from modelfleet.serving.batching import Batcher
from modelfleet.training.export import SIGNATURE_FILE
from modelfleet.training.monitored import EXTRA_COLUMNS, monitored_infer

log = logging.getLogger("modelfleet.serving")
BatchObserver = Callable[[str, str, int], None]  # (workflow, version, rows)


@dataclass
class LoadedModel:
    workflow: str
    version: str
    version_int: int
    classes: list[str]
    input_shape: tuple[int, int, int]
    input_name: str
    output_name: str
    batcher: Batcher = field(repr=False)
    load_seconds: float = 0.0
    preprocess: PreprocessPolicy = LEGACY  # how images are fitted, as this version trained
    # Columns after the probabilities in the batcher's output: the projected embedding
    # and input statistics for the prediction log (serving.monitored); 0 for none.
    extra_columns: int = 0
    penultimate: bool = False  # the embedding is the penultimate layer's (else the scores')


@dataclass(frozen=True)
class Wanted:
    """What one workflow should serve: alias -> version, plus versions kept loaded."""

    aliases: dict[str, str]
    keep: frozenset[str] = frozenset()

    def versions(self) -> set[str]:
        return set(self.aliases.values()) | set(self.keep)


@dataclass(frozen=True)
class _View:
    aliases: dict[str, LoadedModel]
    versions: dict[int, LoadedModel]


def load_version(
    serving_root: Path,
    workflow: str,
    version: Version,
    policy: ServingPolicy,
    on_batch: BatchObserver | None = None,
) -> LoadedModel:
    """Load an exported SavedModel and warm its compiled serving function."""
    import tensorflow as tf

    began = time.perf_counter()
    path = serving_dir(serving_root, workflow, version)
    if not (path / "saved_model.pb").exists():
        raise ModelNotFound(f"model {workflow!r} has no exported version {version} at {path}")
    signature = json.loads((path / SIGNATURE_FILE).read_text())
    loaded = tf.saved_model.load(str(path))
    serving_default = loaded.signatures["serving_default"]
    input_name = next(iter(serving_default.structured_input_signature[1]))
    output_name = next(iter(serving_default.structured_outputs))

    shape = tuple(signature["input_shape"])
    # The SavedModel's `serve` graph, imported once more so that one compiled call also
    # returns the projected penultimate embedding and the input statistics (the closure
    # keeps `loaded`, which owns the variables, alive). The artifact is unchanged.
    infer, penultimate = monitored_infer(loaded, shape, workflow, str(version))
    for rows in (1, policy.max_batch_size):  # warm before anyone is routed here
        infer(np.zeros((rows, *shape), dtype=np.float32))
    name = str(version)
    return LoadedModel(
        workflow=workflow,
        version=name,
        version_int=version.as_int(),
        classes=list(signature["classes"]),
        input_shape=shape,
        input_name=input_name,
        output_name=output_name,
        batcher=Batcher(
            infer,
            max_batch=policy.max_batch_size,
            max_wait_s=policy.batch_timeout_ms / 1000,
            on_batch=None if on_batch is None else lambda rows: on_batch(workflow, name, rows),
        ),
        load_seconds=time.perf_counter() - began,
        preprocess=PreprocessPolicy.of_export(signature.get("preprocess")),
        extra_columns=EXTRA_COLUMNS,
        penultimate=penultimate,
    )


class ModelPool:
    def __init__(
        self,
        serving_root: Path,
        policies: dict[str, ServingPolicy],
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.serving_root = serving_root
        self.policies = dict(policies)
        self.on_batch = on_batch
        self._views: dict[str, _View] = {}
        self._deployed: frozenset[str] | None = (
            None  # workflows with wanted versions; None: not synced yet
        )

    # -- request path (event loop): plain dict reads of an immutable view --

    def resolve(
        self, workflow: str, *, label: str = PRODUCTION, version_int: int | None = None
    ) -> LoadedModel:
        view = self._views.get(workflow)
        if view is None:
            if workflow not in self.policies:
                raise ModelNotFound(f"no model named {workflow!r}")
            if self._deployed is not None and workflow not in self._deployed:
                raise ModelNotFound(f"model {workflow!r} has no deployed version")
            raise ModelNotReady(f"model {workflow!r} has no version loaded yet")
        if version_int is not None:
            model = view.versions.get(version_int)
            if model is None:
                loaded = ", ".join(f"{m.version_int} ({m.version})" for m in self.models(workflow))
                raise ModelNotFound(
                    f"model {workflow!r} version {version_int} is not loaded; loaded: {loaded}. "
                    "Pin a version to an application to keep it loaded."
                )
            return model
        model = view.aliases.get(label)
        if model is None:
            raise ModelNotFound(
                f"model {workflow!r} has no label {label!r}; labels: {', '.join(view.aliases)}"
            )
        return model

    def models(self, workflow: str) -> list[LoadedModel]:
        view = self._views.get(workflow)
        return [] if view is None else sorted(view.versions.values(), key=_by_version)

    def labels(self, workflow: str) -> dict[str, str]:
        view = self._views.get(workflow)
        return {} if view is None else {a: m.version for a, m in view.aliases.items()}

    def served(self) -> Iterator[tuple[str, list[LoadedModel], dict[str, LoadedModel]]]:
        """Per workflow: its loaded versions and what each alias serves (one consistent view)."""
        for workflow, view in sorted(self._views.items()):
            yield workflow, sorted(view.versions.values(), key=_by_version), dict(view.aliases)

    def loaded(self) -> dict[str, list[str]]:
        return {wf: [m.version for m in self.models(wf)] for wf in sorted(self._views)}

    # -- control path (registry watcher thread) --

    def set_policies(self, policies: dict[str, ServingPolicy]) -> list[str]:
        """The workflows the fleet declares now, with their serving policies (a workflow
        added or archived; a changed policy applies to versions loaded from now on).
        Returns what changed."""
        before, self.policies = self.policies, dict(policies)  # one assignment: atomic
        return [f"workflow {w} declared" for w in sorted(set(policies) - set(before))] + [
            f"workflow {w} no longer declared" for w in sorted(set(before) - set(policies))
        ]

    def apply(self, wanted: dict[str, Wanted]) -> list[str]:
        """Load what is wanted and missing, swap the views, unload the rest.

        A version that fails to load is logged and left out; an alias whose version
        could not load keeps serving what it served before. Returns what changed.
        """
        current = self._views
        loaded = {(wf, m.version_int): m for wf, v in current.items() for m in v.versions.values()}
        changes: list[str] = []
        views: dict[str, _View] = {}
        for workflow, want in wanted.items():
            models: dict[int, LoadedModel] = {}
            for name in sorted(want.versions()):
                version = Version.parse(name)
                model = loaded.get((workflow, version.as_int()))
                if model is None:
                    model = self._load(workflow, version)
                    if model is None:
                        continue
                    changes.append(f"loaded {workflow} {name} in {model.load_seconds:.2f}s")
                models[model.version_int] = model
            before = current.get(workflow)
            aliases: dict[str, LoadedModel] = {}
            for alias, name in want.aliases.items():
                model = models.get(Version.parse(name).as_int())
                if model is None and before is not None and alias in before.aliases:
                    model = before.aliases[alias]  # keep serving the old one
                    models[model.version_int] = model
                if model is not None:
                    aliases[alias] = model
                    if before is None or before.aliases.get(alias) is not model:
                        changes.append(f"{workflow} {alias} -> {model.version}")
            if models:
                views[workflow] = _View(aliases, models)
        self._views = views  # the atomic swap
        self._deployed = frozenset(w for w, want in wanted.items() if want.versions())
        kept = {id(m) for v in views.values() for m in v.versions.values()}
        for (workflow, _), model in loaded.items():
            if id(model) not in kept:
                model.batcher.close()  # queued requests still finish
                changes.append(f"unloaded {workflow} {model.version}")
        return changes

    def add(self, model: LoadedModel, *aliases: str) -> None:
        """Serve an already loaded model (benchmarks, tests without a registry)."""
        view = self._views.get(model.workflow) or _View({}, {})
        self._views = {
            **self._views,
            model.workflow: _View(
                {**view.aliases, **dict.fromkeys(aliases, model)},
                {**view.versions, model.version_int: model},
            ),
        }

    def _load(self, workflow: str, version: Version) -> LoadedModel | None:
        try:
            return load_version(
                self.serving_root,
                workflow,
                version,
                self.policies.get(workflow, ServingPolicy()),
                self.on_batch,
            )
        except ModelNotFound as exc:  # not exported (yet): no traceback every poll
            log.warning("%s; keeping what is served", exc)
            return None
        except Exception:
            log.exception("could not load %s %s; keeping what is served", workflow, version)
            return None


def _by_version(model: LoadedModel) -> int:
    return model.version_int
