"""Sans-IO protocol codecs: bytes in, frozen dataclasses out, and back to bytes.

Nothing in this package opens files or sockets, logs, or imports ``analyzer``.
"""
