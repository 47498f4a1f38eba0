"""`python -m modelfleet.cli ...`: the same as the `modelfleet` script."""

from __future__ import annotations

import sys

from modelfleet.cli import main

sys.exit(main())
