"""A benchmark's child, measured from a small process of its own.

On Linux a process's ``ru_maxrss`` starts at the high-water mark of the process it was
forked from (the exec keeps it), so a command started straight from a benchmark that has
grown (it loaded a report's JSON, or the calls it splices) reports at least the
benchmark's own peak. Each command is therefore started by this file run as a fresh
interpreter: it forks, the fork (a small process) runs the command, and it reports the
command's wall time, CPU time and peak memory in a file the benchmark reads.

``python launch.py REPORT CMD...``: runs CMD, writes "seconds cpu_seconds maxrss_kib" to
REPORT, exits with CMD's exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True, slots=True)
class Usage:
    seconds: float  # wall time, fork to reaped
    cpu: float  # user + system seconds of the command and the children it waited for
    maxrss: int  # peak resident memory of its largest process, KiB
    code: int  # exit code


class Child:
    """A command started through this file (``popen_kwargs`` as for ``subprocess.Popen``)."""

    def __init__(self, cmd: list[str], **popen_kwargs: Any) -> None:
        fd, self._report = tempfile.mkstemp(prefix="bench-usage-")
        os.close(fd)
        launcher = [sys.executable, "-S", "-E", os.path.abspath(__file__), self._report]
        self.proc = subprocess.Popen([*launcher, *cmd], **popen_kwargs)

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self.proc.stderr is not None
        return self.proc.stderr

    def wait(self) -> Usage:
        code = self.proc.wait()
        try:
            with open(self._report) as f:
                seconds, cpu, maxrss = f.read().split()
        finally:
            os.remove(self._report)
        return Usage(float(seconds), float(cpu), int(maxrss), code)


def main(argv: list[str]) -> int:
    report, cmd = argv[0], argv[1:]
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t
    with open(report, "w") as f:
        f.write(f"{dt} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss}")
    return os.waitstatus_to_exitcode(status) % 256


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
