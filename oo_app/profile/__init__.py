"""The person's profile: preferences, consents, contexts, data export and account deletion.

Domain functions take a ``sqlmodel.Session`` and the ``User``, flush but never commit, and raise
:mod:`oo_app.errors` with messages a person can act on; the settings page, the API (:mod:`.routes`) and any CLI are
thin adapters over them. One module per concern: :mod:`.prefs` (with :mod:`.param_rules`), :mod:`.consents`,
:mod:`.contexts`, :mod:`.export`, :mod:`.deletion`, and :mod:`.overview` for what the settings page reads at once.
"""
