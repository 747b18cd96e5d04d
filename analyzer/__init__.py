"""mikeyshark: the application layer (I/O, correlation, keys, rules, reports, traffic)."""

__version__ = "0.1.0"
