"""Running `modelfleet` in-process in tests."""

from __future__ import annotations

import pytest

from modelfleet.cli import main


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """The stderr of `modelfleet *argv`, which must be a usage error: exit `code` (2
    unless the command documents another), the usage line first."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == code
    err = capsys.readouterr().err
    assert err.startswith(f"usage: modelfleet {argv[0]}")
    return err
