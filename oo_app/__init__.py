"""oO: one well-timed tip, on one black page."""
