"""oO agents: small registry-driven modules that turn a person's history into prompt snippets.

Each agent module defines ``AGENT`` (see :mod:`agents.base`); the registry discovers them, so adding an agent is
adding a module. Nothing in this package imports Reflex or the web layer.
"""
