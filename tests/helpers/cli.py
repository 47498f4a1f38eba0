"""Running `modelfleet` in-process in tests."""

from __future__ import annotations

import pytest

from modelfleet.cli import main


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of `modelfleet *argv`, which must be a usage error: exit 2, the usage
    line first."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: modelfleet {argv[0]}")
    return err
