"""Where a writer's text goes: a file written whole or not at all, or standard output.

A report file is written to a temporary file beside it and renamed over the target once
complete, so that a crash or a full disk never leaves half a report where a CI job or a
browser would read it as whole.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def open_text(path: str) -> Iterator[TextIO]:
    """A text stream for ``path`` ("-": standard output), UTF-8 with "\\n" line ends."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        # mkstemp's file is private (0600); a report gets what a plain open() would give it
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
