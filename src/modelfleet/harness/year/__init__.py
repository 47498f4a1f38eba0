"""A year of the fleet: every workflow retrained every month through Airflow, measured."""
