"""`modelfleet monitor WF [--window 24h] [--json]`: the report `monitor__<wf>` stores,
computed on demand over the window that ends now, and stored nowhere."""

from __future__ import annotations

import json
from typing import Any

import click

from modelfleet.cli.base import command, json_flag, option


@command(
    "monitor",
    help="drift, confidence, volume and live accuracy of a workflow's recent predictions",
    description=(
        "The monitors' report over the prediction log's last WINDOW (the same report "
        "monitor__<wf> stores each hour): input, feature and prediction drift against the "
        "production version's training data, confidence, volume, live accuracy from labels, "
        "and the alerts they raise (docs/monitoring.md)."
    ),
)
@click.argument("workflow")
@option("--window", default="24h", show_default=True, help="how far back: 90m, 24h, 7d")
@json_flag()
def monitor(workflow: str, window: str, as_json: bool) -> None:
    from datetime import UTC, datetime

    # no SQLAlchemy, no ORM schema: one report over a bare connection (registry.reader)
    from modelfleet.cli.known import fleet_workflow, usage_error
    from modelfleet.config import parse_duration
    from modelfleet.monitoring.compute import compute_report
    from modelfleet.registry.reader import direct_query

    declared = fleet_workflow(workflow)
    try:
        span = parse_duration(window)
    except ValueError as exc:
        usage_error(f"--window: {exc}")
    end = datetime.now(UTC)
    with direct_query() as query:
        report = compute_report(query, declared, end - span, end)
    if as_json:
        print(json.dumps(report, indent=2, default=str))
    else:
        click.echo(_text(report))


def _text(report: dict[str, Any]) -> str:
    confidence, requests = report["confidence"], report["requests"]
    lines = [
        f"{report['workflow']} {report['version'] or '(no predictions)'}: "
        f"{report['window_start']} .. {report['window_end']}",
        f"  logged {report['n_logged']}, used {report['n_used']}"
        + (" (subsampled)" if report["subsampled"] else ""),
        f"  confidence: mean {_fmt(confidence['mean'])}, "
        f"below {confidence['threshold']}: {_fmt(confidence['low_share'])}",
        f"  live accuracy: {_fmt(report['live_accuracy'])} ({report['labelled']} labelled)",
        f"  error rate: {_fmt(report['error_rate'])} of {requests['total']} requests "
        f"({requests['rejected']} refused, {requests['failed']} failed)",
    ]
    for key in ("brightness_psi", "contrast_psi", "shape_mismatch"):
        if key in report["input"]:
            lines.append(f"  {key}: {_fmt(report['input'][key])}")
    if "feature" in report:
        lines.append(f"  feature mmd2: {_fmt(report['feature']['mmd2'])}")
    if "prediction_psi" in report:
        lines.append(f"  prediction psi: {_fmt(report['prediction_psi'])}")
    lines += [f"  note: {note}" for note in report["notes"]]
    alerts = report["alerts"]
    lines.append(f"alerts: {len(alerts) or 'none'}")
    lines += [
        f"  {a['kind']}: {_fmt(a['statistic'])} (threshold {a['threshold']}) {a['detail'] or ''}"
        for a in alerts
    ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
