"""The one mapping from errors to HTTP statuses, as the endpoint and the UI answer them."""

from __future__ import annotations

import pytest

from modelfleet import errors
from modelfleet.errors import http_status, retry_after_s

# (error, the endpoint's status, the UI's status)
CASES = [
    (errors.ConfigError, 400, 400),
    (errors.NotFound, 404, 404),
    (errors.InvalidGrant, 400, 400),  # the UI's pin form answers a missing version 404 itself
    (errors.RegistryError, 409, 409),
    (errors.StaleRelease, 409, 409),
    (errors.VersioningError, 409, 409),
    (errors.DataError, 500, 400),
    (errors.ValidationFailed, 500, 400),
    (errors.PlatformError, 500, 400),
    (errors.RunTimedOut, 500, 400),
    (errors.ModelfleetError, 500, 400),
    (errors.ServingError, 500, 500),
    (errors.BadRequest, 400, 400),
    (errors.Unauthorized, 401, 401),
    (errors.Forbidden, 403, 403),
    (errors.ModelNotFound, 404, 404),
    (errors.PayloadTooLarge, 413, 413),
    (errors.TooManyRequests, 429, 429),
    (errors.Overloaded, 503, 503),
    (errors.ModelNotReady, 503, 503),
]


@pytest.mark.parametrize(("error", "endpoint", "ui"), CASES)
def test_each_error_has_one_status(error, endpoint, ui):
    exc = error("why")
    assert http_status(exc) == endpoint
    assert http_status(exc, unclassified=400) == ui


def test_retry_after_comes_with_the_errors_worth_retrying():
    assert retry_after_s(errors.Overloaded("busy")) == 1
    assert retry_after_s(errors.Overloaded("busy", retry_after_s=7)) == 7
    assert retry_after_s(errors.ModelNotReady("loading")) == 5
    assert retry_after_s(errors.TooManyRequests("slow down")) == 60
    assert retry_after_s(errors.BadRequest("no")) is None
    assert retry_after_s(errors.NotFound("gone")) is None
