"""Training, evaluation and export: plain functions that DVC stages and Airflow
tasks both call. Modules here that import TensorFlow run in stage subprocesses."""
