"""The HTTP layer all routes and the API share: rendering, sessions, CSRF, errors, schemas."""
