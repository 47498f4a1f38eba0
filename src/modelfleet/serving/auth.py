"""Who is asking: API key -> application, and which model version its request means.

A key is verified with argon2 once, then cached (by the key's sha256) for
`key_cache_ttl_s`, or until the registry watcher sees applications, keys or grants
change. A verification that was still running when such a change arrived is used once
but not cached: it may have read the key before a revocation committed.

A request whose key is cached pays no argon2 and meets no limit. Any other key costs
one argon2 verification, whether its key id exists or not (the store verifies unknown
ids against a dummy hash, so timing tells nothing about key ids). Before that, the
client address must have a failed attempt left (`FailedAttempts`, else 429), and the
verification waits for one of the worker's argon2 slots (else 503 after the queue
timeout), so wrong keys cannot take the CPU from everyone else.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelfleet.errors import Forbidden, Unauthorized
from modelfleet.host.cores import usable_cores
from modelfleet.naming import PRODUCTION
from modelfleet.registry import db
from modelfleet.registry.store import applications
from modelfleet.serving.limits import Capacity, Clock, FailedAttempts
from modelfleet.serving.request_tally import accepted
from modelfleet.serving.workers import worker_count
from modelfleet.settings import EndpointLimits

log = logging.getLogger("modelfleet.serving")
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Principal:
    """An authenticated application: its grants (workflow -> pin), or everything if admin."""

    name: str
    admin: bool = False
    grants: Mapping[str, str] = field(default_factory=dict)
    labels: frozenset[str] = frozenset()  # workflows whose images it may label

    def require_label(self, workflow: str) -> None:
        """Labelling is its own grant (`apps grant --label`); admin applications hold it."""
        if not self.admin and workflow not in self.labels:
            raise Forbidden(f"application {self.name!r} has no label grant for {workflow!r}")

    def pin_for(self, workflow: str) -> str:
        """The alias or version an unversioned request for `workflow` resolves to."""
        pin = self.grants.get(workflow)
        if pin is not None:
            return pin
        if self.admin:
            return PRODUCTION
        raise Forbidden(f"application {self.name!r} has no grant for workflow {workflow!r}")

    def require_admin(self) -> None:
        if not self.admin:
            raise Forbidden(f"application {self.name!r} is not an admin application")


INSECURE_LOCAL = Principal("insecure-local", admin=True)


def key_from(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <key>`, or `X-API-Key: <key>`."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise Unauthorized("the Authorization header must read 'Bearer <API key>'")
    return headers.get("x-api-key") or None


def verification_slots(limits: EndpointLimits) -> int:
    """argon2 verifications one worker runs at once: its share of the cores by default."""
    if limits.key_verifications is not None:
        return limits.key_verifications
    return max(1, usable_cores() // worker_count())


class Authenticator:
    def __init__(
        self,
        database_url: str | None,
        *,
        insecure_local: bool = False,
        limits: EndpointLimits | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        limits = limits or EndpointLimits()
        self.database_url = database_url
        self.insecure_local = insecure_local
        self.limits = limits
        self.clock = clock
        self.slots = Capacity(
            verification_slots(limits), "API key verification", timeout_s=limits.queue_timeout_s
        )
        self.failures = FailedAttempts(limits.auth_failures_per_min, clock=clock)
        self.verifications = 0  # argon2 checks started (tests, benchmarks)
        self._static: dict[str, Principal] = {}
        self._cache: dict[str, tuple[Principal, float]] = {}  # digest -> (who, expires)
        self._generation = 0  # bumped by every invalidation
        self._lock = threading.Lock()  # invalidations come from the registry watcher thread
        if insecure_local:
            log.warning(
                "--insecure-local: API keys are NOT checked; every caller is admin. "
                "Use this for demos on your own machine only."
            )

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache = {}

    def add_static(self, key: str, principal: Principal) -> None:
        """A key known without the database (benchmarks, tests); never expires."""
        self._static[_digest(key)] = principal

    async def of(self, request: Request) -> Principal:
        """The application behind `request`'s key (401, 429 or 503 otherwise)."""
        client = request.client
        found = await self.principal(request.headers, client.host if client else "")
        accepted(request.scope)  # its requests now count towards the error rate
        return found

    async def principal(self, headers: Mapping[str, str], address: str = "") -> Principal:
        if self.insecure_local:
            return INSECURE_LOCAL
        key = key_from(headers)
        if key is None:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <API key>'")
        digest = _digest(key)
        found = self._static.get(digest) or self._cached(digest)
        if found is not None:
            return found
        self.failures.begin(address)  # 429 before any hashing
        found = None
        answered = False  # an overload (503) or a lost client is no failed attempt
        try:
            async with self.slots.hold(1):
                generation = self._generation
                self.verifications += 1
                found = await run_in_threadpool(self._verify, key)
                answered = True
        finally:
            self.failures.end(address, failed=answered and found is None)
        if found is None:
            raise Unauthorized("unknown or revoked API key")
        if self.limits.key_cache:
            with self._lock:
                if generation == self._generation:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache = {}
                    self._cache[digest] = (found, self.clock() + self.limits.key_cache_ttl_s)
        return found

    def _cached(self, digest: str) -> Principal | None:
        entry = self._cache.get(digest)
        if entry is None:
            return None
        principal, expires = entry
        if self.clock() >= expires:
            self._cache.pop(digest, None)
            return None
        return principal

    def _verify(self, key: str) -> Principal | None:
        if self.database_url is None:
            return None
        with Session(db.engine(self.database_url)) as session:
            app = applications.authenticate(session, key)
        if app is None:
            return None
        return Principal(app.name, app.admin, dict(app.grants), app.labels)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
