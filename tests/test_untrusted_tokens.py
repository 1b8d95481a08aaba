"""Hostile characters in a state or token are a refusal a person can read, never a 500.

``hmac.compare_digest`` raises ``TypeError`` on ``str`` with non-ASCII characters; every state and token oO compares
arrives from the browser and may carry them. (The CSRF token's cases are in tests/test_auth.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from oo_app.integrations.oauth import AuthorizationFailed, check_state, start_state, todoist_provider
from oo_app.models import User


def test_a_non_ascii_todoist_state_is_refused_like_any_forged_state(configure: Callable[..., None], demo_user: User):
    configure(OO_TODOIST_CLIENT_ID="oo", OO_TODOIST_CLIENT_SECRET="todoist-secret")
    provider = todoist_provider()
    _, cookie = start_state(provider, demo_user, "https://oo.example/integrations/todoist/callback")
    with pytest.raises(AuthorizationFailed, match="does not match the connection you started"):
        check_state(provider, cookie, "é-forged", demo_user)
