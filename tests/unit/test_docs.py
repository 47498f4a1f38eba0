"""The docs cite only what exists, and the README stays an overview.

Every repository path that README.md and docs/*.md name (`src/modelfleet/...`,
`bench/...`, `tests/...`, `docs/...`, `dags/...`, a module file such as
`serving/batching.py`, a dotted module such as `modelfleet.training.stage`) must be in
the checkout, and every relative Markdown link must reach its file and heading. Modules
move; the docs that name them must move with them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "modelfleet"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 160

# A path from the repository root. The look-behind keeps out `$MODELFLEET_HOME/...`,
# `/opt/.../docs/...` and `data-docs/...`, which are not files of the checkout.
ROOTED_PATH = re.compile(
    r"(?<![\w./$~-])((?:src|bench|tests|docs|dags|plugins|\.ci)/[\w./-]*[\w/])"
)
# A Python file named alone in a code span: from the root, from the package, or by name.
MODULE_FILE = re.compile(r"`([\w/.-]+\.py)`")
# A dotted module path, possibly ending in one of the module's names.
DOTTED = re.compile(r"(?<![\w./-])modelfleet(?:\.[a-z_]\w*)+(?![\w/])")
NOT_MODULES = {"json", "yaml", "yml", "toml", "key", "sock", "cfg", "md", "py"}
# A Markdown link that is not to the web.
LINK = re.compile(r"\]\((?!https?:|mailto:)([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _relative(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _python_files() -> set[str]:
    roots = ("src", "tests", "bench", "dags", "plugins")
    return {p.name for r in roots for p in (ROOT / r).rglob("*.py")}


def _module_file_exists(name: str) -> bool:
    if "/" not in name:
        return name in _python_files()
    if (ROOT / name).is_file() or (PACKAGE / name).is_file():
        return True
    # A file of another project, such as Airflow's `airflow/dag_processing/dagbag.py`.
    top = name.split("/", 1)[0]
    return not (PACKAGE / top).exists() and importlib.util.find_spec(top) is not None


def _dotted_exists(dotted: str) -> bool:
    """`modelfleet.a.b` names a module or package, or a name the module before it defines."""
    parts = dotted.split(".")
    if parts[-1] in NOT_MODULES:
        return True
    where = PACKAGE
    for i, part in enumerate(parts[1:], start=1):
        if (where / part).is_dir():
            where = where / part
            continue
        if (where / f"{part}.py").is_file():
            where = where / f"{part}.py"
            continue
        if i == 1:
            return False
        source = where / "__init__.py" if where.is_dir() else where
        return bool(re.search(rf"\b{re.escape(part)}\b", source.read_text()))
    return True


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    text = CODE_BLOCK.sub("", doc.read_text())
    return {_slug(h) for h in HEADING.findall(text)}


def _link_resolves(doc: Path, target: str) -> bool:
    """A relative link reaches its file, and a `#heading` of a Markdown file."""
    path, _, anchor = target.partition("#")
    linked = (doc.parent / path).resolve() if path else doc
    if not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in _anchors(linked)


def cited_paths(text: str) -> set[str]:
    """Every repository path a document names (the form is what the doc wrote)."""
    return {m.rstrip("/") or m for m in ROOTED_PATH.findall(text)}


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_cited_path_exists(doc: Path) -> None:
    text = doc.read_text()
    missing = sorted(p for p in cited_paths(text) if not (ROOT / p).exists())
    missing += sorted(f for f in set(MODULE_FILE.findall(text)) if not _module_file_exists(f))
    missing += sorted(d for d in set(DOTTED.findall(text)) if not _dotted_exists(d))
    assert not missing, f"{_relative(doc)} names what the checkout does not hold: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_relative_link_resolves(doc: Path) -> None:
    targets = set(LINK.findall(CODE_BLOCK.sub("", doc.read_text())))
    broken = [t for t in targets if not _link_resolves(doc, t)]
    assert not broken, f"{_relative(doc)} links to what is not there: {sorted(broken)}"


def test_readme_is_an_overview() -> None:
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"


def test_readme_names_the_test_command() -> None:
    # CI (.ci/run) runs `make test`; the README is where a newcomer learns it.
    assert "make test" in (ROOT / "README.md").read_text()


def _layered_modules() -> set[str]:
    """The modules the layers contract of `.importlinter` places, one name each."""
    text = (ROOT / ".importlinter").read_text()
    layers = text.split("layers =", 1)[1].split("\n[", 1)[0]
    return {
        name.strip() for line in layers.splitlines() for name in line.split("|") if name.strip()
    }


def test_architecture_places_every_layered_module() -> None:
    described = (ROOT / "docs" / "architecture.md").read_text()
    missing = sorted(m for m in _layered_modules() if f"`modelfleet.{m}`" not in described)
    assert not missing, f"docs/architecture.md does not say what these layers hold: {missing}"
