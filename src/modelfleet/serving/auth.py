"""Who is asking: API key -> application, and which model version its request means.

A key is verified with argon2 once, then cached (by the key's sha256) until the
registry watcher sees applications, keys or grants change. A verification that was
still running when such a change arrived is used once but not cached: it may have
read the key before a revocation committed. Unknown key ids are refused without hashing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelfleet import db
from modelfleet.errors import Forbidden, Unauthorized
from modelfleet.registry.store import applications

log = logging.getLogger("modelfleet.serving")
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Principal:
    """An authenticated application: its grants (workflow -> pin), or everything if admin."""

    name: str
    admin: bool = False
    grants: Mapping[str, str] = field(default_factory=dict)

    def pin_for(self, workflow: str) -> str:
        """The alias or version an unversioned request for `workflow` resolves to."""
        pin = self.grants.get(workflow)
        if pin is not None:
            return pin
        if self.admin:
            return "production"
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


class Authenticator:
    def __init__(self, database_url: str | None, *, insecure_local: bool = False) -> None:
        self.database_url = database_url
        self.insecure_local = insecure_local
        self._cache: dict[str, Principal] = {}
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
        """A key known without the database (benchmarks)."""
        self._cache[_digest(key)] = principal

    async def principal(self, headers: Mapping[str, str]) -> Principal:
        if self.insecure_local:
            return INSECURE_LOCAL
        key = key_from(headers)
        if key is None:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <API key>'")
        digest = _digest(key)
        found = self._cache.get(digest)
        if found is None:
            generation = self._generation
            found = await run_in_threadpool(self._verify, key)
            if found is None:
                raise Unauthorized("unknown or revoked API key")
            with self._lock:
                if generation == self._generation:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache = {}
                    self._cache[digest] = found
        return found

    def _verify(self, key: str) -> Principal | None:
        if self.database_url is None:
            return None
        with Session(db.engine(self.database_url)) as session:
            app = applications.authenticate(session, key)
        if app is None:
            return None
        return Principal(app.name, app.admin, dict(app.grants))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
