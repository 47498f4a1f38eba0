"""The `validate@<wf>` DVC stage: the snapshot's integrity and expectations.

Runs in the workspace (DVC's working directory) from the workflow's section of
`params.yaml`, so a checkout of any tag validates its data the same way. It writes
the whole outcome to `models/<wf>/validation.json`, which the training stage
depends on: a failed validation stops `dvc repro train@<wf>` before any fitting.
"""

from __future__ import annotations

import json
from pathlib import Path

from modelfleet.config import TrainSpec
from modelfleet.datasets.integrity import verify_split
from modelfleet.naming import DATA_SPLITS, data_dir, validation_file
from modelfleet.settings import get_settings
from modelfleet.validation.suite import ValidationOutcome, validate_snapshot


def run_validation(spec: TrainSpec, repo: Path) -> ValidationOutcome:
    """Validate the snapshot in `repo`; the month is the one its holdout comes from."""
    rows = {split: verify_split(repo / data_dir(spec.name, split)) for split in DATA_SPLITS}
    # The holdout is the run's month alone (train may have lost it all to quarantine).
    month = max(row.month for row in rows["holdout"] or rows["train"])
    settings = get_settings()
    outcome = validate_snapshot(spec, month, repo, settings.gx_root, settings.data_docs)
    out = repo / validation_file(spec.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"month": month, **outcome.to_json()}, indent=1, default=str))
    return outcome
