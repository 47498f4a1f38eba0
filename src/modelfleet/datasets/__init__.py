"""Data sources, manifests and monthly snapshots."""
