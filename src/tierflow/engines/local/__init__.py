"""Local engines: one file per diffusers family; torch and diffusers are imported lazily."""
