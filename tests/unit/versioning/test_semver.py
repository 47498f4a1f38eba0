from __future__ import annotations

import pytest

from modelfleet.naming import Version
from modelfleet.versioning.semver import Released, interface_of, next_version

LENET = ("lenet", ("ok", "crack"), (32, 32, 1))


def released(text: str, month: str, interface=LENET) -> Released:
    return Released(Version.parse(text), month, interface)


@pytest.mark.parametrize(
    ("history", "interface", "month", "expected"),
    [
        ([], LENET, "2026-01", "v1.0.0"),
        ([released("v1.0.0", "2026-01")], LENET, "2026-02", "v1.1.0"),
        ([released("v1.0.0", "2026-01"), released("v1.1.0", "2026-02")], LENET, "2026-02",
         "v1.1.1"),
        # an older month again is a new minor release, not a patch of a later month's
        ([released("v1.0.0", "2026-01"), released("v1.1.0", "2026-02")], LENET, "2026-01",
         "v1.2.0"),
        ([released("v1.1.1", "2026-02")], LENET, "2026-02", "v1.1.2"),
        ([released("v1.1.0", "2026-02")], ("resnet", ("ok", "crack"), (32, 32, 1)), "2026-03",
         "v2.0.0"),
        ([released("v1.1.0", "2026-02")], ("lenet", ("ok", "crack", "spot"), (32, 32, 1)),
         "2026-02", "v2.0.0"),
        ([released("v1.1.0", "2026-02")], ("lenet", ("ok", "crack"), (64, 64, 1)), "2026-03",
         "v2.0.0"),
    ],
    ids=["first", "monthly", "same month again", "older month again", "patch again", "architecture", "classes",
         "input shape"],
)  # fmt: skip
def test_version_bumps(history, interface, month, expected):
    assert str(next_version(history, interface, month)) == expected


def test_interface_comes_from_training_params():
    params = {"architecture": "lenet", "classes": ["ok", "crack"], "input_shape": [32, 32, 1]}
    assert interface_of(params) == LENET
