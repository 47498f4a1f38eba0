"""`modelfleet simulate-year`: the harness's year of retrains under load (harness/year)."""

from __future__ import annotations

import sys
from pathlib import Path

from modelfleet.cli.base import command, option
from modelfleet.cli.known import usage_error
from modelfleet.errors import ConfigError
from modelfleet.settings import CHECKOUT


@command(
    "simulate-year",
    help="retrain every workflow for every month through Airflow under load; "
    "write docs/year-report.md",
)
@option("--only", help="comma-separated workflows (default: the whole fleet)")
@option("--months", help="YYYY-MM:YYYY-MM, or the first N months (default: all)")
@option("--clients", type=int, default=2, help="load generator threads")
@option("--rate", type=float, default=5.0, help="requests/s per load thread")
@option(
    "--timeout-min",
    type=float,
    default=240.0,
    help="stop waiting after this and report on the runs that finished",
)
@option("--report", default=str(CHECKOUT / "docs" / "year-report.md"), help="where to write it")
def simulate_year(
    only: str | None,
    months: str | None,
    clients: int,
    rate: float,
    timeout_min: float,
    report: str,
) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.harness.year.simulate import plan_from, simulate_year
    from modelfleet.settings import get_settings

    settings = get_settings()
    fleet = load_fleet(settings.config_file)
    try:
        plan = plan_from(
            fleet,
            only,
            months,
            clients=clients,
            rate_per_client=rate,
            timeout_min=timeout_min,
            report_path=Path(report),
        )
    except ConfigError as exc:  # --only or --months names what the fleet does not hold
        usage_error(str(exc))
    command_line = (
        " ".join(["modelfleet", *sys.argv[1:]]) if sys.argv[1:] else "modelfleet simulate-year"
    )
    print(simulate_year(settings, plan, command_line))
