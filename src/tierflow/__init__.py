"""tierflow: tiered generative image and video work — draft fast, promote the winner, deliver."""

__version__ = "0.1.0"
