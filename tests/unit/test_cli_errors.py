"""`modelfleet` fails clearly: an unknown workflow or month is a usage error (exit 2)
whose message lists what exists; `--version`; tables piped whole. The commands here need
no registry (tests/integration/test_cli_registry.py covers those that do)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from modelfleet.cli import main
from modelfleet.config import load_fleet
from tests.helpers.cli import usage_error


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "generate", "digitz", "--month", "2026-02"],
        ["data", "import", "digitz", "/nowhere", "--month", "2026-02"],
        ["retrain", "digitz"],
        ["approve", "digitz", "--reason", "r"],
        ["zoo", "trial", "digitz"],
        ["workflow", "remove", "digitz", "--yes"],
        ["apps", "create", "shop", "--grant", "digitz"],
        ["apps", "grant", "shop", "digitz=production", "--reason", "r"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_an_unknown_workflow_exits_2_naming_the_fleet(argv, capsys):
    err = usage_error(argv, capsys)
    assert "error: unknown workflow 'digitz'; the fleet has " in err
    assert ", ".join(load_fleet().workflows) in err


@pytest.mark.parametrize(
    "option, message",
    [
        (["--only", "digits,digitz"], "--only names unknown workflows ['digitz']; known: "),
        (["--months", "2026-13:2026-14"], "--months '2026-13:2026-14' selects none of 2026-01.."),
    ],
)
def test_simulate_year_refuses_unknown_workflows_and_months(option, message, capsys):
    assert message in usage_error(["simulate-year", *option], capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "generate", "digits", "--month", "2026-13"],
        ["data", "import", "digits", "/nowhere", "--month", "2026-13"],
        ["retrain", "digits", "--month", "2026-13"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_an_invalid_month_says_it_is_not_a_month(argv, capsys):
    err = usage_error(argv, capsys)
    assert "month '2026-13' is not a month: YYYY-MM with MM from 01 to 12" in err


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["data", "generate", "digits", "--month", "2030-01"], 2),
        # retrain's "no data" code, as a run for the month would exit; no run is made
        (["retrain", "digits", "--month", "2030-01"], 4),
    ],
    ids=lambda arg: " ".join(arg[:2]) if isinstance(arg, list) else str(arg),
)
def test_a_month_without_data_is_refused_listing_the_months_with_data(argv, code, capsys):
    err = usage_error(argv, capsys, code)
    assert "workflow 'digits' has no data for month 2030-01; months with data: 2026-01, " in err


def test_a_delivered_month_counts_as_data_for_retrain(home, capsys):
    (home / "deliveries" / "digits" / "2031-05").mkdir(parents=True)
    (home / "deliveries" / "digits" / "test-set-0a1b2c").mkdir()  # not a month
    err = usage_error(["retrain", "digits", "--month", "2031-06"], capsys, 4)
    assert "2031-05" in err  # listed beside the source's months
    assert "test-set" not in err


def test_version_prints_the_installed_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"modelfleet {version('modelfleet')}\n"


def test_a_piped_table_is_never_cut(capsys):
    """capsys's stdout is no terminal, as a pipe: every cell whole, on one line."""
    from modelfleet.views import console, render_fleet

    long_name = "caps_line1_" + "x" * 90  # wider than 80 columns by itself
    row = {
        "workflow": long_name,
        "production": "v1.2.0",
        "since": None,
        "test_accuracy": 0.91234,
        "test_macro_f1": None,
        "last_gate": "passed: every check held with a margin to spare",
        "last_validation": "2026-02 passed",
    }
    console().print(render_fleet([row]))
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if long_name in line)
    assert "v1.2.0" in line and "0.9123" in line and row["last_gate"] in line
    assert "…" not in out and "\x1b[" not in out  # no ellipsis, no colour codes


def test_zoo_piped_lists_every_description_whole(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    assert "ZFNet (Zeiler & Fergus, 2013): AlexNet with a smaller, finer first layer" in out
