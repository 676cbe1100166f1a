"""Measurements on pixels (drift between two images, flicker in a clip); no downloaded weights."""
