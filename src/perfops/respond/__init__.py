"""Incident response, the pure parts: runbooks, the incident lifecycle, communication
templates, escalation policy and postmortems over plain data (no lake, no clock of their own)."""
