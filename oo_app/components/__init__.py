"""Reusable Reflex components of the oO pages."""
