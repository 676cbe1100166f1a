"""Hosted engines: one file per vendor SDK (google-genai, fal-client), a shared retry policy, and
loopback fakes (``fakes/``) that speak each vendor's wire format so anyone can test offline."""
