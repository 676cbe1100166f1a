"""Pure Pillow/numpy image helpers (no torch): masks, canvases and composites for cleanup."""
