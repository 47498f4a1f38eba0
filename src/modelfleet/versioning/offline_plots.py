"""`dvc plots show` pages that render offline: DVC's default page loads vega,
vega-lite and vega-embed from jsdelivr. The model repository carries its own page
template, `.dvc/offline-plots.html`, with the vendored scripts inlined, and names it in
`.dvc/config` (`plots.html_template`, relative to `.dvc/`). Both are committed, so a
clone of the repository renders its plots without the internet too.

The template has no `{scripts}` placeholder: that is where DVC would put the CDN tags.
"""

from __future__ import annotations

from pathlib import Path

from modelfleet.versioning.commands import run
from modelfleet.webassets import vega_scripts

TEMPLATE = "offline-plots.html"
FILES = (f".dvc/{TEMPLATE}", ".dvc/config")  # what a change of the template commits

_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- vega, vega-lite and vega-embed inlined by modelfleet: no CDN needed -->
    %s
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def template_html() -> str:
    """DVC's page template, scripts inlined (DVC fills `{plot_divs}`, `{refresh_tag}`)."""
    return _PAGE % vega_scripts()


def ensure_template(repo: Path) -> list[str]:
    """Write the template into `repo` and name it in its DVC config where either is
    missing or stale. Returns the repository paths that changed (for a commit)."""
    changed = []
    path = repo / FILES[0]
    text = template_html()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
        changed.append(FILES[0])
    configured = run(["dvc", "config", "plots.html_template"], repo)
    if configured.returncode != 0 or configured.stdout.strip() != TEMPLATE:
        run(["dvc", "config", "plots.html_template", TEMPLATE], repo).check()
        changed.append(FILES[1])
    return changed
