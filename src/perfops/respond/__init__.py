"""Respond: runbooks, incidents, escalation policy and postmortems (pure: no lake, no CLI)."""
