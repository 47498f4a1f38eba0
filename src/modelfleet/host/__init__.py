"""The machine the platform runs on: processes and their supervision, the cores a process
may use, ports, logs, the user a command runs as, private files, and the warm runner's
socket. Imports nothing above the ground layer."""
