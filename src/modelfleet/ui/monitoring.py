"""The Monitoring panel of a workflow's page: charts over time of the stored monitor
reports, each with its threshold, then the alerts, live accuracy and shadow agreement.
Server-rendered SVG, as the metric trend (ui/graph.py); nothing from a CDN."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from modelfleet.config import Workflow
from modelfleet.naming import CANDIDATE, PRODUCTION
from modelfleet.registry.store import monitor_reports, shadow, versions
from modelfleet.ui.graph import gridlines, value_axis

PATH = monitor_reports.FIGURE_PATHS  # where each figure is in a report, as the gauges read it

# (key, title, path in the report JSON, the MonitorThresholds field or None, breach when)
FIGURES: tuple[tuple[str, str, tuple[str, ...], str | None, str], ...] = (
    ("class_psi", "prediction drift (PSI of class shares)", PATH["prediction_psi"],
     "prediction_psi", "above"),
    ("confidence", "mean top-1 confidence", PATH["confidence_mean"], None, ""),
    ("low_confidence", "share of low-confidence answers", PATH["low_confidence_share"],
     "max_low_confidence_share", "above"),
    ("brightness", "input brightness (mean)", PATH["brightness_mean"], None, ""),
    ("brightness_psi", "input brightness PSI", PATH["brightness_psi"], "input_psi", "above"),
    ("feature_mmd", "feature drift (MMD² of embeddings)", PATH["feature_mmd2"], "feature_mmd",
     "above"),
    ("live_accuracy", "live accuracy (labelled answers)", PATH["live_accuracy"],
     "min_live_accuracy", "below"),
    ("error_rate", "error rate (requests refused or failed)", PATH["error_rate"],
     "max_error_rate", "above"),
)  # fmt: skip
COLORS = ("#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#b83280", "#2c7a7b", "#975a16")


def series_svg(
    labels: list[str],
    series: dict[str, list[float | None]],
    threshold: float | None = None,
    title: str = "",
) -> Markup:
    """One line per series over the windows (`labels`: their ends), and the threshold as
    a dashed red line. Only the first and last window are named on the x-axis."""
    values = [v for vs in series.values() for v in vs if v is not None]
    if not labels or not values:
        return Markup("")
    lo, hi, ticks = value_axis([*values, *([threshold] if threshold is not None else [])])
    width, height, left, bottom = 640, 180, 52, 26
    step = (width - left - 20) / max(1, len(labels) - 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return left + i * step, 10 + (height - bottom - 10) * (hi - value) / (hi - lo)

    parts = [
        f'<svg class="monitor" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    parts.extend(gridlines(ticks, lambda tick: xy(0, tick)[1], left, width, lambda t: f"{t:.3g}"))
    ends = {0: labels[0], len(labels) - 1: labels[-1]}
    for i, label in ends.items():
        x, _ = xy(i, lo)
        anchor = "start" if i == 0 else "end"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" class="axis">'
            f"{escape(label)}</text>"
        )
    if threshold is not None:
        _, y = xy(0, threshold)
        parts.append(
            f'<line class="threshold" x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#c53030" stroke-dasharray="6 4"/>'
            f'<text x="{width - 12}" y="{y - 4:.1f}" text-anchor="end" fill="#c53030" '
            f'class="legend">threshold {threshold:.3g}</text>'
        )
    for n, (name, vs) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        coords = [xy(i, v) for i, v in enumerate(vs) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        if len(coords) == 1:
            x, y = coords[0]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        if len(series) > 1:
            parts.append(
                f'<text x="{left + 8 + n * 48}" y="22" fill="{color}" class="legend">'
                f"{escape(name)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def charts(reports: list[dict[str, Any]], workflow: Workflow) -> list[dict[str, Any]]:
    """A chart per figure that the reports carry, with its threshold and latest value."""
    thresholds = workflow.monitor.thresholds
    labels = [str(r.get("window_end", ""))[:16].replace("T", " ") for r in reports]
    out: list[dict[str, Any]] = []
    shares = sorted({c for r in reports for c in (r.get("class_shares") or {})})
    if shares:
        share = monitor_reports.figure
        series = {c: [share(r, ("class_shares", c)) for r in reports] for c in shares}
        svg = series_svg(labels, series, title="class shares")
        out.append({"key": "class_shares", "title": "class shares", "svg": svg})
    for key, title, path, field, breach in FIGURES:
        values = [monitor_reports.figure(r, path) for r in reports]
        if all(v is None for v in values):
            continue
        threshold = None if field is None else float(getattr(thresholds, field))
        latest = next((v for v in reversed(values) if v is not None), None)
        breached = (
            latest is not None
            and threshold is not None
            and (latest > threshold if breach == "above" else latest < threshold)
        )
        out.append(
            {
                "key": key,
                "title": title,
                "svg": series_svg(labels, {key: values}, threshold, title),
                "latest": latest,
                "threshold": threshold,
                "breached": breached,
            }
        )
    return out


def shadow_agreement(session: Session, workflow: Workflow) -> dict[str, Any] | None:
    """The candidate's agreement with production, where a candidate other than production
    has shadow answers."""
    candidate = versions.resolve_alias(session, workflow.name, CANDIDATE)
    production = versions.resolve_alias(session, workflow.name, PRODUCTION)
    if candidate is None or (production is not None and production.id == candidate.id):
        return None
    got = shadow.agreement(session, candidate.id)
    if got.answered == 0:
        return None
    return {
        "candidate": candidate.version,
        "min_agreement": workflow.release.min_shadow_agreement,
        "min_requests": workflow.release.min_shadow_requests,
        **got.as_dict(),
    }


def panel(session: Session, workflow: Workflow) -> dict[str, Any]:
    """Everything the panel shows; empty charts and alerts before the first report."""
    reports = monitor_reports.recent_reports(session, workflow.name)
    latest = reports[-1] if reports else {}
    return {
        "charts": charts(reports, workflow),
        "alerts": monitor_reports.recent_alerts(session, workflow.name),
        "reports": len(reports),
        "live_accuracy": latest.get("live_accuracy"),
        "labelled": latest.get("labelled"),
        "shadow": shadow_agreement(session, workflow),
    }


def panel_of(session: Session, name: str) -> dict[str, Any] | None:
    """`panel` of a workflow the fleet declares; None for one it no longer does (its
    thresholds are gone with it) or when the fleet file cannot be read."""
    from modelfleet.config import load_fleet
    from modelfleet.errors import ConfigError
    from modelfleet.settings import get_settings

    try:
        workflows = load_fleet(get_settings().config_file).workflows
    except ConfigError:
        return None
    return panel(session, workflows[name]) if name in workflows else None
