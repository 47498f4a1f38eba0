"""The monthly retrain of one workflow, as plain step functions.

- `data`: snapshot the month, validate it, quarantine a few bad files;
- `training`: train the candidate, evaluate it beside production;
- `release`: gate, register, deploy, smoke (and roll back);
- `approve`: release a rejected candidate on a person's word;
- `reclassify`: re-classify stored images with one version.

Airflow tasks, the CLI and tests call these; they never import TensorFlow
(TensorFlow work runs in DVC-stage subprocesses).
"""
