"""The package version, in a module of its own so that lower layers can record it without
importing the public API (``painnjax/__init__``)."""

__version__ = "0.1.0"
