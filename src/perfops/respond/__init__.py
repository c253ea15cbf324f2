"""Respond: runbooks, incidents, the escalation policy and postmortems (pure; the lake and the
clock come from app/)."""
