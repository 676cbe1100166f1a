"""The web studio: server-rendered page shells (Jinja2) whose small scripts read the JSON API."""
