"""The back office's frame at /admin: its overview, the audit log, the staff and their roles,
and the redirects from the old per-package admin pages. Each package's own console pages
(the catalogue, windows, the board...) live in that package's admin module."""
