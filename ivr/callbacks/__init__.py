"""Callbacks: callers promised a call back (today: when nobody was logged in)."""
