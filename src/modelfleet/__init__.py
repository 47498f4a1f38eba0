"""modelfleet: an MLOps platform for fleets of CNN image-classification workflows."""

from __future__ import annotations

__version__ = "0.1.0"
