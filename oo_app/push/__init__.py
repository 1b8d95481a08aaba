"""Web push: a tip reaches a person's browser at their productive hours, never in their quiet hours.

``keys`` (VAPID), ``endpoints`` (which push service URLs oO may POST to), ``subscriptions`` (consent-gated, per
browser), ``delivery`` (one round: who is due, claim, send, record), ``tips`` (which tip a push carries, the message),
``answers`` (the notification's "done" and "later" buttons: a signed token per tip, the answer recorded once),
``sender`` (pywebpush), and the adapters ``routes``, ``cli`` and ``jobs``. Never imports Reflex.
"""
