"""Unit tests see the environment they see when run alone.

In a full run the integration tests' session platform (tests/integration/conftest.py)
is still up while the unit tests run, its MODELFLEET_* and AIRFLOW* variables set: its
fleet file, its database. Each unit test runs without them (MODELFLEET_TEST_* choose the
test server, and stay).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_KEPT = ("MODELFLEET_TEST_",)


@pytest.fixture(scope="module", autouse=True)
def _no_integration_platform() -> Iterator[None]:
    # module scope: autouse fixtures run first in their scope, so a module's own
    # fixtures (tests/unit/ui/conftest.py's registry) set their variables after this
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith(("MODELFLEET_", "AIRFLOW")) and not key.startswith(_KEPT):
                patch.delenv(key)
        yield
