"""opp: a command-line sales pipeline."""

__version__ = "0.1.0"
