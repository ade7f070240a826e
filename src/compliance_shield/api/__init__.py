"""The HTTP API: app factory, auth, error rendering and one router per resource."""
