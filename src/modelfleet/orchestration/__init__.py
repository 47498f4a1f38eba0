"""Airflow wiring: the DAG factory. Logic lives in `modelfleet.pipeline`."""
