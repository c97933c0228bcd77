"""Client-visible messages that more than one module sends."""

INVALID_EMAIL = "Scope should be a valid email address."
