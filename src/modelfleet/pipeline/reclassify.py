"""Re-classify the lake's stored images with another model version (`reclassify__<wf>`).

A run is four steps, each a function here that the DAG task calls:

    pin -> wait_loaded -> reclassify -> unpin   (unpin is the DAG's teardown: it runs
                                                 whenever pin succeeded)

The endpoint loads only the versions its policy names (production, the version it
replaced, candidate, and every version an application pins). `pin` pins the version
in the grant of the platform application `modelfleet-reclassify`, which makes the
endpoint load it; `unpin` puts the grant back on production, which lets it go.

Every image gets a NEW prediction row linked to the version, with
`source = "reclassify:<run id>:<original name>"` and the lake path; earlier rows are
kept, so the lineage of an image shows both. An image that already has a prediction
from the version is skipped, so a retried or repeated run adds nothing twice. The
images are read from the lake, i.e. as stored (metadata stripped, re-encoded), not as
they arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.errors import ConfigError, NotFound, PlatformError
from modelfleet.ingest.lake import Lake
from modelfleet.naming import ALIAS_PINS, Version, parse_pin, serving_dir
from modelfleet.registry import db
from modelfleet.registry.api_keys import RECLASSIFY_APP, auth_headers
from modelfleet.registry.entities import ModelVersion
from modelfleet.registry.store import applications
from modelfleet.registry.store.predictions import add_prediction, stored_images
from modelfleet.registry.store.versions import get_version, resolve_alias
from modelfleet.registry.tables import PredictionRow
from modelfleet.serving.v2_client import answers, images_request
from modelfleet.settings import Settings

# Every day there is: the default range of a run.
FIRST_DAY, LAST_DAY = "0000-01-01", "9999-12-31"
LOAD_TIMEOUT_S = 180.0
MAX_BATCH = 256  # the endpoint's limit of rows per request
SOURCE_PREFIX = "reclassify"


@dataclass(frozen=True)
class Reclassification:
    """One run: which stored images (by lake partition day) go to which version."""

    workflow: str
    version: str  # vX.Y.Z, as `pin` resolved it
    run_id: str
    first_day: str = FIRST_DAY
    last_day: str = LAST_DAY
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ConfigError(
                f"{self.workflow}: first_day {self.first_day} is after last_day {self.last_day}"
            )
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"batch_size must be 1..{MAX_BATCH}, got {self.batch_size}")

    def source(self, original_name: str) -> str:
        return f"{SOURCE_PREFIX}:{self.run_id}:{original_name}"


def resolve_version(session: Session, workflow: str, version: str) -> ModelVersion:
    """`production`, `candidate` or vX.Y.Z of `workflow`, as a registered version."""
    version = parse_pin(version)
    if version in ALIAS_PINS:
        found = resolve_alias(session, workflow, version)
        if found is None:
            raise NotFound(f"workflow {workflow!r} has no {version} version")
        return found
    return get_version(session, workflow, version)


def pin(settings: Settings, workflow: str, version: str, *, actor: str) -> str:
    """Resolve `version` to vX.Y.Z and pin it for the reclassify application."""
    with Session(db.engine()) as session, session.begin():
        resolved = resolve_version(session, workflow, version).version
        exported = serving_dir(settings.serving_root, workflow, Version.parse(resolved))
        if not (exported / "saved_model.pb").is_file():
            raise PlatformError(
                f"{workflow} {resolved} is not exported for serving at {exported}; "
                "the endpoint could not load it"
            )
        applications.set_grant(
            session, RECLASSIFY_APP, workflow, resolved, actor=actor, reason="reclassify: load it"
        )
    print(f"{RECLASSIFY_APP} pins {workflow} to {resolved} (asked for {version})")
    return resolved


def unpin(workflow: str, *, actor: str) -> None:
    """Put the reclassify application back on production (the endpoint may unload)."""
    with Session(db.engine()) as session, session.begin():
        applications.set_grant(
            session, RECLASSIFY_APP, workflow, "production", actor=actor, reason="reclassify done"
        )
    print(f"{RECLASSIFY_APP} pins {workflow} to production again")


def wait_loaded(settings: Settings, workflow: str, version: str) -> float:
    """Block until the endpoint serves the pinned version; returns the seconds it took."""
    with VersionEndpoint(settings, workflow, version) as endpoint:
        seconds = endpoint.wait_loaded()
    print(f"the endpoint serves {workflow} {version} ({seconds:.1f}s after the pin)")
    return seconds


class VersionEndpoint:
    """The endpoint at one explicit version (V2 protocol), with the reclassify key."""

    def __init__(
        self, settings: Settings, workflow: str, version: str, client: httpx.Client | None = None
    ) -> None:
        self.workflow, self.version = workflow, version
        self.client = client or httpx.Client(
            base_url=settings.endpoint_url,
            headers=auth_headers(settings, RECLASSIFY_APP),
            timeout=120,
        )
        self.path = f"/v2/models/{workflow}/versions/{version}"
        self._classes: list[str] | None = None

    def __enter__(self) -> VersionEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def wait_loaded(self, timeout_s: float = LOAD_TIMEOUT_S, poll_s: float = 0.5) -> float:
        """Block until the version answers `ready`; returns the seconds it took."""
        began = time.monotonic()
        seen = "no answer yet"
        while time.monotonic() - began < timeout_s:
            try:
                response = self.client.get(f"{self.path}/ready")
                if response.status_code == 200:
                    return time.monotonic() - began
                seen = f"{response.status_code}: {response.text[:300]}"
            except httpx.TransportError as exc:
                seen = f"unreachable ({exc})"
            time.sleep(poll_s)
        raise PlatformError(
            f"endpoint {self.client.base_url} did not load {self.workflow} {self.version} "
            f"within {timeout_s:.0f}s after it was pinned (last answer: {seen}); "
            "the endpoint log says why"
        )

    def classify(self, images: list[bytes]) -> list[dict[str, Any]]:
        """One request for the batch: [{label, score, scores}] per image."""
        reply = self._send("POST", f"{self.path}/infer", json=images_request(images))
        if reply["model_version"] != self.version:  # never record a row under the wrong version
            raise PlatformError(
                f"asked {self.workflow} {self.version}, answered by {reply['model_version']}"
            )
        return answers(reply, self.classes())

    def classes(self) -> list[str]:
        if self._classes is None:
            self._classes = list(self._send("GET", self.path)["parameters"]["classes"])
        return self._classes

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise PlatformError(f"endpoint {self.client.base_url} unreachable: {exc}") from None
        if response.status_code != 200:
            raise PlatformError(
                f"endpoint answered {method} {path} with {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json()


def _has_prediction(session: Session, version_id: int, shas: list[str]) -> set[str]:
    return set(
        session.scalars(
            sa.select(PredictionRow.image_sha256).where(
                PredictionRow.model_version_id == version_id,
                PredictionRow.image_sha256.in_(shas),
            )
        )
    )


def reclassify(
    settings: Settings,
    job: Reclassification,
    *,
    endpoint: VersionEndpoint | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, int]:
    """Classify the stored images of the range with `job.version`; add their rows.

    Returns counts: images (in the range), classified (new rows), skipped (a row of
    this version existed), missing (stored, but gone from the lake).
    """
    engine = db.engine()
    lake = Lake(settings.lake_url)
    with Session(engine) as session:
        version_id = get_version(session, job.workflow, job.version).id
        images = stored_images(session, job.workflow, job.first_day, job.last_day)
    counts = {"images": len(images), "classified": 0, "skipped": 0, "missing": 0}
    progress(
        f"{job.workflow}: {len(images)} stored images from {job.first_day} to {job.last_day} "
        f"go to {job.version}, {job.batch_size} per request"
    )
    with endpoint or VersionEndpoint(settings, job.workflow, job.version) as client:
        for start in range(0, len(images), job.batch_size):
            batch = images[start : start + job.batch_size]
            with Session(engine) as session:
                done = _has_prediction(session, version_id, [sha for sha, _, _ in batch])
            todo: list[tuple[str, str, str, bytes]] = []
            for sha, path, name in batch:
                if sha in done:
                    counts["skipped"] += 1
                    continue
                try:
                    todo.append((sha, path, name, lake.read(path)))
                except FileNotFoundError:
                    counts["missing"] += 1
                    progress(f"WARNING {job.workflow} {sha} ({name}): stored at {path}, not there")
            if todo:
                answers = client.classify([data for *_, data in todo])
                with Session(engine) as session, session.begin():
                    # One writer per version at a time, then look again: two runs (or a
                    # retry beside a zombie) never both add a row for the same image.
                    session.execute(
                        sa.select(
                            sa.func.pg_advisory_xact_lock(
                                sa.func.hashtext(RECLASSIFY_APP), version_id
                            )
                        )
                    )
                    written = _has_prediction(session, version_id, [t[0] for t in todo])
                    for (sha, path, name, _), answer in zip(todo, answers, strict=True):
                        if sha in written:
                            counts["skipped"] += 1
                            continue
                        add_prediction(
                            session,
                            model_version_id=version_id,
                            image_sha256=sha,
                            label=answer["label"],
                            score=answer["score"],
                            scores=answer["scores"],
                            source=job.source(name),
                            stored_path=path,
                        )
                        counts["classified"] += 1
            progress(
                f"{job.workflow} {job.version}: {min(start + len(batch), len(images))}/"
                f"{len(images)} images, {counts['classified']} new predictions, "
                f"{counts['skipped']} had one, {counts['missing']} missing"
            )
    return counts
