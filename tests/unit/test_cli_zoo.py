"""`modelfleet zoo` at the default input answers from the precomputed table: TensorFlow
and Keras are never imported (importing them alone takes seconds)."""

from __future__ import annotations

import subprocess
import sys

from modelfleet.zoo import FAMILIES


def test_zoo_lists_every_family_without_importing_tensorflow():
    script = (
        "import sys\n"
        "from modelfleet.cli import main\n"
        "code = main(['zoo'])\n"
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules], code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    *table, last = done.stdout.splitlines()
    assert last == "[] 0"
    listed = [line.split()[1] for line in table if line.startswith("│")]
    assert listed == list(FAMILIES)
    assert "83,126" in "\n".join(table)  # lenet's parameters at 32x32x3, 10 classes
