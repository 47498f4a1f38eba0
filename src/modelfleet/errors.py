"""Domain exceptions.

ModelfleetError
├── ConfigError            workflows.yaml is wrong (names the workflow and field)
├── DataError              a dataset or file is unusable
│   ├── NoDataForMonth     the source has nothing for the requested month
│   ├── ValidationFailed   a month of data failed its checks
│   └── TamperedData       training data changed after it was validated
├── RegistryError          lineage/registry store problems
│   ├── NotFound           a workflow, version, alias or prediction does not exist
│   │   └── InvalidGrant   a grant or pin names an undeclared workflow or a missing version
│   └── StaleRelease       a release would replace a newer production version
├── VersioningError        a git/dvc/gto command failed
├── PlatformError          a component could not be started or reached
│   └── RunTimedOut        an Airflow run did not finish in the time waited for it
└── ServingError           raised by the endpoint; each subclass carries its HTTP status
    ├── BadRequest (400)
    ├── Unauthorized (401)  no or unknown API key
    ├── Forbidden (403)     the application holds no grant for the workflow, or is no admin
    ├── ModelNotFound (404)
    ├── PayloadTooLarge (413)
    ├── TooManyRequests (429) too many failed key attempts from one address
    ├── Overloaded (503)    no capacity now (key checks, decode budget); try again
    └── ModelNotReady (503)
"""

from __future__ import annotations


class ModelfleetError(Exception):
    """Root of every error modelfleet raises on purpose."""


class ConfigError(ModelfleetError):
    pass


class DataError(ModelfleetError):
    pass


class NoDataForMonth(DataError):
    pass


class ValidationFailed(DataError):
    pass


class TamperedData(DataError):
    pass


class RegistryError(ModelfleetError):
    pass


class NotFound(RegistryError):
    pass


class StaleRelease(RegistryError):
    pass


class InvalidGrant(NotFound):
    pass


class VersioningError(ModelfleetError):
    pass


class PlatformError(ModelfleetError):
    pass


class RunTimedOut(PlatformError):
    pass


class ServingError(ModelfleetError):
    status_code = 500
    retry_after_s: int | None = None  # sent as Retry-After: when trying again makes sense

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s


class BadRequest(ServingError):
    status_code = 400


class Unauthorized(ServingError):
    status_code = 401


class Forbidden(ServingError):
    status_code = 403


class ModelNotFound(ServingError):
    status_code = 404


class PayloadTooLarge(ServingError):
    status_code = 413


class TooManyRequests(ServingError):
    status_code = 429
    retry_after_s = 60


class Overloaded(ServingError):
    status_code = 503
    retry_after_s = 1


class ModelNotReady(ServingError):
    status_code = 503
    retry_after_s = 5
