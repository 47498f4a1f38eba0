"""Model repository (git + DVC + GTO): naming, commands, registration."""
