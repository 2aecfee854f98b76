"""Notices of state changes: in-app, and by e-mail through the job worker (never clinical text)."""
