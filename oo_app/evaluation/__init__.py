"""Offline evaluation of oO: simulated persons react to its tips (:mod:`oo_app.evaluation.simulation`)."""
