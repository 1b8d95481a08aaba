"""Faithful stand-ins of third-party services that cannot be reached here (used by the tests only)."""
