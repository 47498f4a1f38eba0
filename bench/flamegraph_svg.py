"""A flame graph as a self-contained SVG (no script, no fonts or styles from outside: it
opens in an air-gapped browser), from collapsed stacks: `frame;frame;frame` -> samples.

Roots at the bottom; a frame's width is its share of the samples; hover shows its name,
samples and share.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

WIDTH = 1200.0
ROW = 16
CHAR_PX = 6.5  # of the 11 px monospace label, to decide what fits


@dataclass
class Node:
    name: str
    samples: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def tree(stacks: Counter[str]) -> Node:
    root = Node("all")
    for stack, n in stacks.items():
        node = root
        node.samples += n
        for frame in stack.split(";"):
            node = node.children.setdefault(frame, Node(frame))
            node.samples += n
    return root


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def _colour(name: str) -> str:
    # warm colours, stable per function, so one function looks the same across graphs
    h = hashlib.md5(name.encode()).digest()
    return f"rgb({205 + h[0] % 50},{80 + h[1] % 120},{30 + h[2] % 40})"


def write_svg(stacks: Counter[str], path: Path, title: str) -> None:
    root = tree(stacks)
    height = (_depth(root) + 2) * ROW
    scale = WIDTH / max(root.samples, 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="#fafafa"/>',
        f'<text x="6" y="13">{escape(title)}</text>',
    ]

    def draw(node: Node, x: float, depth: int) -> None:
        w = node.samples * scale
        if w < 2.0:  # too narrow to read or hover: left out, with its children
            return
        y = height - (depth + 1) * ROW
        share = node.samples / max(root.samples, 1)
        label = f"{node.name} ({node.samples} samples, {share:.1%})"
        out.append(
            f'<g><title>{escape(label)}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{ROW - 1}" fill="{_colour(node.name)}" rx="1"/>'
        )
        fits = int((w - 4) / CHAR_PX)
        if fits >= 4:
            text = node.name if len(node.name) <= fits else node.name[: fits - 2] + ".."
            out.append(f'<text x="{x + 2:.1f}" y="{y + ROW - 4}">{escape(text)}</text>')
        out.append("</g>")
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, x, depth + 1)
            x += child.samples * scale

    draw(root, 0.0, 0)
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
