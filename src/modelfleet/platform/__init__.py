"""Starting, stopping and driving the platform's processes (`modelfleet up/stop/demo`)."""
