"""Third-party integrations through delegated auth (Todoist), with tokens encrypted at rest.

``vault`` encrypts tokens (MultiFernet, key rotation), ``oauth`` runs the OAuth 2 code flow and refresh, ``todoist``
syncs completion derivatives (never titles), ``revocation`` revokes and forgets tokens; ``routes`` and ``cli`` adapt.
"""
