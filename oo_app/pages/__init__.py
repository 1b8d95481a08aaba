"""Reflex pages: functions returning components, one module per route."""
