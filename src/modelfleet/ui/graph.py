"""The lineage chain as a graph of linked nodes, and the SVG that draws it.

prediction -> model version -> training run -> dataset version -> validation along
the top; the gate decision, the code and params, and a parent version below the
node they belong to. Every node links to where its evidence is: its tag's page,
its Airflow run or its Data Docs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

from markupsafe import Markup

from modelfleet.ui.links import Links

NODE_W, COL_W, ROW_H, LINE_H = 200, 240, 150, 15


@dataclass(frozen=True)
class Node:
    id: str
    title: str
    lines: list[str]
    href: str | None
    col: int
    row: int = 0
    leaves_app: bool = False  # an Airflow page: open it in the whole window
    status: str = ""  # "ok" | "bad" | ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node, after: str | None = None) -> None:
        """Add `node`, with an arrow to it from the node `after` if one is given."""
        self.nodes.append(node)
        if after is not None:
            self.edges.append((after, node.id))

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.as_dict() for n in self.nodes],
            "edges": [{"from": a, "to": b} for a, b in self.edges],
        }


def _short(value: str | None, n: int = 12) -> str:
    return "—" if not value else value[:n]


def lineage_graph(chain: dict[str, Any], runs: dict[str, dict[str, Any]], links: Links) -> Graph:
    """Nodes and edges of a `version_lineage` / `prediction_lineage` chain; `runs` is
    `lineage_runs` (the Airflow run behind each link)."""
    mv, run, ds = chain["model_version"], chain["training_run"], chain["dataset_version"]
    workflow, version = mv["workflow"], mv["version"]
    page = links.workflow(workflow, version)
    graph = Graph()
    col, before = 0, None
    if "prediction" in chain:
        p = chain["prediction"]
        lines = [
            f"{p['label']} ({p['score']})",
            f"image {_short(p['image_sha256'])}…",
            p["at"][:19],
        ]
        graph.add(Node("prediction", f"prediction #{p['id']}", lines, None, col))
        col, before = 1, "prediction"
    lines = [
        f"artifact {_short(mv['artifact_sha256'])}",
        f"repo commit {_short(mv['repo_commit'])}",
        mv["created_at"][:19],
    ]
    graph.add(Node("model_version", f"version {mv['tag']}", lines, page, col), after=before)
    gate = chain.get("gate_decision")
    verdict = "—" if gate is None else ("passed" if gate["passed"] else "rejected")
    lines = [
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in (chain.get("evaluation") or {}).items()
    ]
    status = "" if gate is None else ("ok" if gate["passed"] else "bad")
    graph.add(Node("gate", f"gate {verdict}", lines, page, col, 1, status=status), "model_version")
    lines = [run["architecture"], f"fit {run['fit_seconds']} s", _short(run["run_id"], 26)]
    title = f"training run #{run['id']}"
    node = _airflow_node("training_run", title, lines, runs.get("training_run"), col + 1, links)
    graph.add(node, after="model_version")
    params = (run.get("params") or {}).get("params") or {}
    lines = [f"{k}={v}" for k, v in list(params.items())[:4]]
    graph.add(
        Node("code", f"code {_short(run['code_sha'])}", lines, page, col + 1, 1), "training_run"
    )
    if run.get("parent"):
        parent = Node(
            "parent",
            f"parent {run['parent']}",
            ["warm start"],
            links.lineage(run["parent"]),
            col + 1,
            2,
        )
        graph.add(parent, after="training_run")
    lines = [
        f"months {ds['months'][0]}..{ds['months'][-1]}" if ds["months"] else "",
        f"{ds['n_train']} training images",
        f"dvc md5 {_short(ds['train_dvc_md5'])}",
    ]
    title = f"dataset #{ds['id']} ({ds['month']})"
    node = _airflow_node(
        "dataset_version", title, lines, runs.get("dataset_version"), col + 2, links
    )
    graph.add(node, after="training_run")
    validation = chain.get("validation")
    if validation is not None:
        stats = validation.get("statistics") or {}
        lines = [
            f"{stats.get('successful_expectations', '?')}/"
            f"{stats.get('evaluated_expectations', '?')} expectations",
            "Data Docs" if validation.get("data_docs") else "no Data Docs",
        ]
        node = Node(
            "validation",
            "validation " + ("passed" if validation["success"] else "FAILED"),
            lines,
            links.data_docs(validation.get("data_docs")),
            col + 3,
            status="ok" if validation["success"] else "bad",
        )
        graph.add(node, after="dataset_version")
    return graph


def _airflow_node(
    node_id: str, title: str, lines: list[str], run: dict[str, Any] | None, col: int, links: Links
) -> Node:
    """A node whose evidence is an Airflow run (`run`: its dag_id and run_id): the link
    leaves the app's frame."""
    run = run or {}
    href = links.dag_run(run.get("dag_id"), run.get("run_id"))
    return Node(node_id, title, lines, href, col, leaves_app=True)


def _height(node: Node) -> int:
    return 30 + LINE_H * max(1, len(node.lines))


def graph_svg(graph: Graph) -> Markup:
    """The graph as inline SVG: boxes in a grid, arrows between them, links on boxes."""
    width = 20 + COL_W * (max(n.col for n in graph.nodes) + 1)
    height = 20 + ROW_H * (max(n.row for n in graph.nodes) + 1)
    where = {n.id: n for n in graph.nodes}
    parts = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#667"/></marker></defs>',
    ]
    x1: float  # whole on a row, a half node wide between rows
    x2: float
    for a, b in graph.edges:
        src, dst = where[a], where[b]
        x1, y1 = 20 + src.col * COL_W, 20 + src.row * ROW_H
        x2, y2 = 20 + dst.col * COL_W, 20 + dst.row * ROW_H
        if src.row == dst.row:  # left to right
            x1, y1, x2, y2 = x1 + NODE_W, y1 + 22, x2, y2 + 22
        else:  # straight down
            x1, y1, x2, y2 = x1 + NODE_W / 2, y1 + _height(src), x2 + NODE_W / 2, y2
        parts.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#667" '
            'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for node in graph.nodes:
        x, y = 20 + node.col * COL_W, 20 + node.row * ROW_H
        text = [
            f'<text x="{x + 10}" y="{y + 20}" class="title">{escape(node.title)}</text>',
            *(
                f'<text x="{x + 10}" y="{y + 38 + i * LINE_H}">{escape(line)}</text>'
                for i, line in enumerate(node.lines)
            ),
        ]
        box = (
            f'<g class="node {node.status}" data-node="{node.id}"><rect x="{x}" y="{y}" '
            f'width="{NODE_W}" height="{_height(node)}" rx="6"/>{"".join(text)}</g>'
        )
        if node.href:
            target = ' target="_top"' if node.leaves_app else ""
            box = f'<a href="{escape(node.href)}"{target}>{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return Markup("".join(parts))


def value_axis(values: list[float]) -> tuple[float, float, list[float]]:
    """The y-axis range and ticks that fit `values`: 0.97..0.99 gets a range a little
    wider than that, not 0..1, so versions that differ by a point are told apart."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.15 or max(abs(hi) * 0.01, 0.005)
    lo, hi = lo - pad, hi + pad
    # The padding never crosses the bounds of a score (0 and 1) that the values keep to.
    if min(values) >= 0.0 > lo:
        lo = 0.0
    if max(values) <= 1.0 < hi:
        hi = 1.0
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    return lo, hi, ticks


def _tick_label(value: float, span: float) -> str:
    decimals = 2 if span >= 0.2 else 3 if span >= 0.02 else 4
    return f"{value:.{decimals}f}"


def gridlines(
    ticks: list[float],
    y_of: Callable[[float], float],
    left: int,
    width: int,
    tick_label: Callable[[float], str],
) -> list[str]:
    """The y-axis of a chart: a light horizontal line and a label per tick, shared by the
    metric trend and the monitoring charts so both axes look alike."""
    lines = []
    for tick in ticks:
        y = y_of(tick)
        lines.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="4" y="{y + 4:.1f}" class="axis">{tick_label(tick)}</text>'
        )
    return lines


def trend_svg(points: list[tuple[str, dict[str, float | None]]], metrics: list[str]) -> Markup:
    """Metrics across versions, one line each: `points` is [(version, values)]. The
    y-axis spans the values shown (`value_axis`)."""
    values = [v for _, vs in points for m in metrics if (v := vs.get(m)) is not None]
    if not points or not values:
        return Markup("")
    lo, hi, ticks = value_axis(values)
    width, height, left, bottom = 640, 220, 52, 30
    step = (width - left - 20) / max(1, len(points) - 1)
    colors = ["#2b6cb0", "#2f855a", "#c05621", "#6b46c1"]

    def xy(i: int, value: float) -> tuple[float, float]:
        return left + i * step, 10 + (height - bottom - 10) * (hi - value) / (hi - lo)

    parts = [
        f'<svg class="trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="metric trend" data-y-min="{lo:.6g}" data-y-max="{hi:.6g}">'
    ]
    parts.extend(
        gridlines(
            ticks, lambda tick: xy(0, tick)[1], left, width, lambda t: _tick_label(t, hi - lo)
        )
    )
    for i, (label, _) in enumerate(points):
        x, _ = xy(i, 0)
        parts.append(
            f'<text x="{x}" y="{height - 8}" text-anchor="middle" class="axis">{escape(label)}</text>'
        )
    for m, metric in enumerate(metrics):
        color = colors[m % len(colors)]
        coords = [
            xy(i, v)
            for i, (_, values) in enumerate(points)
            if (v := values.get(metric)) is not None
        ]
        if coords:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in coords
            )
        parts.append(
            f'<text x="{left + 10 + m * 150}" y="22" fill="{color}" class="legend">{escape(metric)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
