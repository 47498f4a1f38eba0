"""The model repository (git + DVC + GTO): its commands, per-run workspaces, rendering
params.yaml and dvc.yaml, registration, the GTO stage mirror, doctor and reproduction.
(Names of tags, versions and DAGs live in `modelfleet.naming`.)"""
