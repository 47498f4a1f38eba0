"""What `modelfleet reproduce` says when a rebuild does not match (the comparison
itself; the rebuild is in tests/integration/test_versioning.py)."""

from __future__ import annotations

from modelfleet.versioning import reproduce
from modelfleet.versioning.reproduce import Reproduction, _environment_differences

LIBS = {"python": "3.11.2", "tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.3.5"}


def test_a_changed_library_and_code_commit_are_named(monkeypatch):
    monkeypatch.setattr(reproduce, "code_sha", lambda: "b" * 40)
    differences = _environment_differences(
        {"libraries": LIBS}, {"libraries": {**LIBS, "tensorflow": "2.22.0"}}, "a" * 40
    )
    assert differences == [
        "code: trained at modelfleet commit aaaaaaaaaaaa, now bbbbbbbbbbbb",
        "library tensorflow: 2.21.0 then, 2.22.0 now",
    ]


def test_same_environment_names_nothing(monkeypatch):
    monkeypatch.setattr(reproduce, "code_sha", lambda: "a" * 40)
    assert _environment_differences({"libraries": LIBS}, {"libraries": LIBS}, "a" * 40) == []


def test_match_compares_the_sha256():
    assert Reproduction("w@v1.0.0", "x" * 64, "x" * 64).match
    assert not Reproduction("w@v1.0.0", "x" * 64, "y" * 64).match


def test_changed_stage_modules_are_named(monkeypatch):
    monkeypatch.setattr(reproduce, "code_sha", lambda: "a" * 40)
    monkeypatch.setattr(reproduce, "code_fingerprint", lambda: "new")
    differences = _environment_differences({}, {}, "a" * 40, trained_modules="old")
    assert differences == ["code: the stage modules differ from those in the tag's code.json"]


def test_fingerprint_covers_the_stage_modules():
    from modelfleet.versioning.code import _source_files, code_fingerprint

    names = {p.name for p in _source_files()}
    assert {"train.py", "checks.py", "naming.py", "lenet.py"} <= names
    assert code_fingerprint() == code_fingerprint()
