"""Production monitoring: the prediction log's reports, drift tests, alerts, live
accuracy from labels, and shadow agreement (docs/monitoring.md)."""
