"""Reflex states: per page, holding only what the page shows, with handlers that call domain functions."""
