"""What exists to measure or prove the platform, not to run it: the year simulation and
the CeleryExecutor check. Nothing in the platform imports this package."""
