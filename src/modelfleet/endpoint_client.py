"""The one client of the prediction endpoint (filled in by the restructure)."""
