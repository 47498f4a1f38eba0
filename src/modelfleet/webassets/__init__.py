"""Web assets the platform's pages load, vendored from npm into the package so that
every page renders without the internet (plant networks are often air-gapped).

`PACKAGES` is the manifest: each npm package at an exact version, the files kept from
its tarball and its licence files. `python -m modelfleet.webassets.fetch` re-creates
`vendor/` from it with `npm pack` (while developing; nothing is fetched at run time).
Each package lands in `vendor/<name>-<version>/` with the tarball's own paths, so a
stylesheet's relative `url(../webfonts/...)` still resolves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).parent / "vendor"
_END_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)


@dataclass(frozen=True)
class Package:
    """One npm package: what is kept of it, and its licence (paths in the tarball)."""

    name: str
    version: str
    files: tuple[str, ...]
    licences: tuple[str, ...]

    @property
    def dirname(self) -> str:
        """`@forevolve/bootstrap-dark` 1.1.0 -> `forevolve-bootstrap-dark-1.1.0`."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def root(self) -> Path:
        """The package's folder in `vendor/` (licence files beside its files)."""
        return VENDOR / self.dirname

    def path(self, file: str) -> Path:
        """The vendored copy of `file` (a path in the tarball)."""
        if file not in self.files:
            raise KeyError(f"{self.spec}: {file!r} is not vendored (one of {self.files})")
        return self.root / file


_FA_FONTS = tuple(
    f"webfonts/fa-{face}.{ext}"
    for face in ("brands-400", "regular-400", "solid-900", "v4compatibility")
    for ext in ("woff2", "ttf")
)

# The versions Great Expectations 1.x's Data Docs templates ask the CDNs for (vega,
# vega-lite and vega-embed there float on a major: the newest of it when vendored), and
# FastAPI's defaults for the API pages (swagger-ui-dist@5, redoc@2: likewise).
PACKAGES: dict[str, Package] = {
    p.name: p
    for p in (
        Package("vega", "5.33.1", ("build/vega.min.js",), ()),  # licence: see fetch.py
        Package("vega-lite", "5.23.0", ("build/vega-lite.min.js",), ("LICENSE",)),
        Package("vega-embed", "6.29.0", ("build/vega-embed.min.js",), ("LICENSE",)),
        Package(
            "bootstrap",
            "4.3.1",
            ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js"),
            ("LICENSE",),
        ),
        Package(
            "bootstrap-table",
            "1.19.1",
            (
                "dist/bootstrap-table.min.css",
                "dist/bootstrap-table.min.js",
                "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
                "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
            ),
            ("LICENSE",),
        ),
        Package(
            "bootstrap-datepicker",
            "1.9.0",
            ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"),
            ("LICENSE",),
        ),
        Package(
            "@forevolve/bootstrap-dark",
            "1.1.0",
            ("dist/css/bootstrap-prefers-dark.min.css",),
            ("LICENSE",),
        ),
        Package(
            "@fortawesome/fontawesome-free",
            "6.6.0",
            ("css/all.min.css", *_FA_FONTS),
            ("LICENSE.txt",),
        ),
        Package("jquery", "3.7.1", ("dist/jquery.min.js",), ("LICENSE.txt",)),
        Package("popper.js", "1.12.9", ("dist/umd/popper.min.js",), ()),  # see fetch.py
        Package(
            "swagger-ui-dist",
            "5.35.0",
            ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
            ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"),
        ),
        Package(
            "redoc",
            "2.5.4",
            ("bundles/redoc.standalone.js",),
            ("LICENSE", "bundles/redoc.standalone.js.LICENSE.txt"),
        ),
    )
}


def asset(package: str, file: str) -> Path:
    """The vendored `file` of npm `package` (a path in its tarball)."""
    try:
        found = PACKAGES[package]
    except KeyError:
        raise KeyError(f"{package!r} is not vendored (one of {', '.join(PACKAGES)})") from None
    return found.path(file)


def url_path(package: str, file: str) -> str:
    """`asset`'s path relative to `VENDOR`, as a URL path (`vega-5.33.1/build/...`)."""
    asset(package, file)  # a name that is not vendored fails here, not as a 404 later
    return f"{PACKAGES[package].dirname}/{file}"


def vega_scripts() -> str:
    """vega, vega-lite and vega-embed inlined as three <script> elements."""
    parts = []
    for package, file in (
        ("vega", "build/vega.min.js"),
        ("vega-lite", "build/vega-lite.min.js"),
        ("vega-embed", "build/vega-embed.min.js"),
    ):
        # "</script" would end the element early; inside a string "<\/" reads the same.
        code = _END_SCRIPT.sub(r"<\\/\1", asset(package, file).read_text(encoding="utf-8"))
        parts.append(f"<script>/* {PACKAGES[package].spec} */\n{code}\n</script>")
    return "\n".join(parts)
