"""The stream classifier: landing folders -> endpoint -> lake (or quarantine)."""
