"""Engines render pixels; one protocol (``base.Engine``), many families (local diffusers, hosted APIs, tiny)."""
