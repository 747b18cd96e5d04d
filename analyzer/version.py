"""The package's version, on the ground floor: the reports name it, the package exports it."""

__version__ = "0.1.0"
