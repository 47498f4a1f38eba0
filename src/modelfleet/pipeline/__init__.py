"""The monthly retrain of one workflow, as plain step functions.

Airflow tasks, the CLI and tests call these; they never import TensorFlow
(TensorFlow work runs in DVC-stage subprocesses).
"""
