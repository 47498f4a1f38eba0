"""Domain exceptions, each with the HTTP status an endpoint or the UI answers it with.

ModelfleetError
├── ConfigError (400)      workflows.yaml is wrong (names the workflow and field)
├── DataError              a dataset or file is unusable
│   ├── NoDataForMonth     the source has nothing for the requested month
│   ├── ValidationFailed   a month of data failed its checks
│   └── TamperedData       training data changed after it was validated
├── RegistryError (409)    lineage/registry store problems
│   ├── NotFound (404)     a workflow, version, alias or prediction does not exist
│   │   └── InvalidGrant (400) a grant or pin names an undeclared workflow or a missing version
│   ├── StaleRelease       a release would replace a newer production version
│   └── InvalidLabel (400) a label that is not one of the workflow's classes
├── VersioningError (409)  a git/dvc/gto command failed
├── PlatformError          a component could not be started or reached
│   └── RunTimedOut        an Airflow run did not finish in the time waited for it
└── ServingError (500)     raised by the endpoint
    ├── BadRequest (400)
    ├── Unauthorized (401)  no or unknown API key
    ├── Forbidden (403)     the application holds no grant for the workflow, or is no admin
    ├── ModelNotFound (404)
    ├── PayloadTooLarge (413)
    ├── TooManyRequests (429) too many failed key attempts from one address
    ├── Overloaded (503)    no capacity now (key checks, decode budget); try again
    └── ModelNotReady (503)

A class without a status of its own inherits its parent's; DataError, PlatformError and
the root have none (`http_status` says what each surface answers them with).
"""

from __future__ import annotations


class ModelfleetError(Exception):
    """Root of every error modelfleet raises on purpose."""

    http_status: int | None = None  # None: a failure with no status of its own


class ConfigError(ModelfleetError):
    http_status = 400


class DataError(ModelfleetError):
    pass


class NoDataForMonth(DataError):
    pass


class ValidationFailed(DataError):
    pass


class TamperedData(DataError):
    pass


class RegistryError(ModelfleetError):
    http_status = 409


class NotFound(RegistryError):
    http_status = 404


class StaleRelease(RegistryError):
    pass


class InvalidGrant(NotFound):
    http_status = 400


class InvalidLabel(RegistryError):
    """A label that is not one of the workflow's classes."""

    http_status = 400


class VersioningError(ModelfleetError):
    http_status = 409


class PlatformError(ModelfleetError):
    pass


class RunTimedOut(PlatformError):
    pass


class ServingError(ModelfleetError):
    http_status = 500
    retry_after_s: int | None = None  # sent as Retry-After: when trying again makes sense

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s


class BadRequest(ServingError):
    http_status = 400


class Unauthorized(ServingError):
    http_status = 401


class Forbidden(ServingError):
    http_status = 403


class ModelNotFound(ServingError):
    http_status = 404


class PayloadTooLarge(ServingError):
    http_status = 413


class TooManyRequests(ServingError):
    http_status = 429
    retry_after_s = 60


class Overloaded(ServingError):
    http_status = 503
    retry_after_s = 1


class ModelNotReady(ServingError):
    http_status = 503
    retry_after_s = 5


def http_status(exc: ModelfleetError, *, unclassified: int = 500) -> int:
    """The HTTP status for `exc`, the one mapping the endpoint and the UI share: its
    class's `http_status`, or `unclassified` for an error that has none (DataError,
    PlatformError, the root): the endpoint answers those 500, the UI 400."""
    return unclassified if exc.http_status is None else exc.http_status


def retry_after_s(exc: ModelfleetError) -> int | None:
    """Seconds worth waiting before trying again (the Retry-After header), if any."""
    return exc.retry_after_s if isinstance(exc, ServingError) else None
