"""Knowing each person and reaching them once a day: admins' notes and tags on people,
segments (saved filters over people), and broadcasts (the one push a day)."""
