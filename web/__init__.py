"""The HTTP layer all routes and the API share: rendering, sessions, CSRF, errors, schemas."""

from web import paths

# Route modules build their routes when imported; every one of them imports web first.
paths.register()
