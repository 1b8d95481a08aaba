"""Offline evaluation of oO: policies benchmarked on the personas (:mod:`.bench`) and simulated persons reacting to
their tips over weeks (:mod:`.simulation`)."""
