"""Monitoring roll-ups kept by the worker (the admin's monitoring pages read them)."""
