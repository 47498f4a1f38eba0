"""Re-create `vendor/` from the manifest with `npm pack` (a developer's step, never run
by the platform): `python -m modelfleet.webassets.fetch`.

Two packages ship no licence file in their tarball; their licence (from package.json
and the file's own header) is written beside them as LICENCE-NOTE.txt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from modelfleet.webassets import PACKAGES, VENDOR, Package

# package -> the note for a tarball without a licence file
NOTES = {
    "vega": (
        'vega 5.33.1 is licensed BSD-3-Clause (package.json "license"), Copyright (c)\n'
        "University of Washington Interactive Data Lab, the same terms as vega-lite's and\n"
        "vega-embed's LICENSE beside it. https://github.com/vega/vega/blob/main/LICENSE\n"
    ),
    "popper.js": (
        'popper.js 1.12.9 is licensed MIT (package.json "license"); popper.min.js\'s\n'
        'header: "Copyright (C) Federico Zivolo 2017. Distributed under the MIT License\n'
        '(license terms are at http://opensource.org/licenses/MIT)."\n'
    ),
}


def fetch(package: Package, into: Path, work: Path) -> None:
    """`npm pack` one package and copy its listed files and licences into `into`."""
    subprocess.run(["npm", "pack", "--silent", package.spec], cwd=work, check=True)
    (tarball,) = work.glob("*.tgz")
    target = into / package.dirname
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        for name in (*package.files, *package.licences):
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise FileNotFoundError(f"{package.spec}: no {name} in the tarball")
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(member.read())
    if package.name in NOTES:
        (target / "LICENCE-NOTE.txt").write_text(NOTES[package.name])
    tarball.unlink()


def main() -> int:
    for package in PACKAGES.values():
        with tempfile.TemporaryDirectory() as work:
            fetch(package, VENDOR, Path(work))
        print(f"vendored {package.spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
