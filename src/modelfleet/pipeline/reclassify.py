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

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from modelfleet.endpoint_client import EndpointClient
from modelfleet.errors import ConfigError, NotFound, PlatformError
from modelfleet.lake import Lake
from modelfleet.naming import ALIAS_PINS, PRODUCTION, Version, parse_pin, serving_dir
from modelfleet.registry import db
from modelfleet.registry.api_keys import RECLASSIFY_APP
from modelfleet.registry.entities import ModelVersion, NewPrediction
from modelfleet.registry.store import applications, ingest_files
from modelfleet.registry.store.predictions import add_prediction
from modelfleet.registry.store.versions import get_version, resolve_alias
from modelfleet.settings import Settings

# Every day there is: the default range of a run.
FIRST_DAY, LAST_DAY = "0000-01-01", "9999-12-31"
LOAD_TIMEOUT_S = 180.0
TIMEOUT_S = 120.0  # one request of up to MAX_BATCH images
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
            session, RECLASSIFY_APP, workflow, PRODUCTION, actor=actor, reason="reclassify done"
        )
    print(f"{RECLASSIFY_APP} pins {workflow} to production again")


def wait_loaded(settings: Settings, workflow: str, version: str) -> float:
    """Block until the endpoint serves the pinned version; returns the seconds it took."""
    with EndpointClient.for_app(settings, RECLASSIFY_APP, timeout=TIMEOUT_S) as endpoint:
        seconds = endpoint.wait_ready(workflow, version, LOAD_TIMEOUT_S)
    print(f"the endpoint serves {workflow} {version} ({seconds:.1f}s after the pin)")
    return seconds


def reclassify(
    settings: Settings,
    job: Reclassification,
    *,
    endpoint: EndpointClient | None = None,
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
        images = ingest_files.stored_images(session, job.workflow, job.first_day, job.last_day)
    counts = {"images": len(images), "classified": 0, "skipped": 0, "missing": 0}
    progress(
        f"{job.workflow}: {len(images)} stored images from {job.first_day} to {job.last_day} "
        f"go to {job.version}, {job.batch_size} per request"
    )
    client = endpoint or EndpointClient.for_app(settings, RECLASSIFY_APP, timeout=TIMEOUT_S)
    with client:
        for start in range(0, len(images), job.batch_size):
            batch = images[start : start + job.batch_size]
            with Session(engine) as session:
                done = ingest_files.predicted_images(
                    session, version_id, [sha for sha, _, _ in batch]
                )
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
                answers = client.infer(
                    job.workflow, [data for *_, data in todo], version=job.version
                )
                with Session(engine) as session, session.begin():
                    # One writer per version at a time, then look again: two runs (or a
                    # retry beside a zombie) never both add a row for the same image.
                    ingest_files.lock_version_writer(session, RECLASSIFY_APP, version_id)
                    written = ingest_files.predicted_images(
                        session, version_id, [t[0] for t in todo]
                    )
                    for (sha, path, name, _), answer in zip(todo, answers, strict=True):
                        if sha in written:
                            counts["skipped"] += 1
                            continue
                        add_prediction(
                            session,
                            NewPrediction(
                                model_version_id=version_id,
                                image_sha256=sha,
                                label=answer.label,
                                score=answer.score,
                                scores=answer.scores,
                                source=job.source(name),
                                stored_path=path,
                            ),
                        )
                        counts["classified"] += 1
            progress(
                f"{job.workflow} {job.version}: {min(start + len(batch), len(images))}/"
                f"{len(images)} images, {counts['classified']} new predictions, "
                f"{counts['skipped']} had one, {counts['missing']} missing"
            )
    return counts
