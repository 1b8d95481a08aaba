"""Login with OpenID Connect (Authlib), server-side sessions, CSRF."""
