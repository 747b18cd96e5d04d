"""The child watcher the Wireshark check runs tshark under."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from mikeyshark import wscheck

pytestmark = pytest.mark.skipif(
    not hasattr(asyncio, "PidfdChildWatcher") or not hasattr(os, "pidfd_open"),
    reason="the child watcher can no longer be chosen",
)


def test_a_child_reaped_by_its_popen_keeps_its_exit_status() -> None:
    # pyshark's end of file: the child has exited, the loop has not run since, and kill()
    # (Popen.send_signal polls first) reaps it; asyncio's own watchers then report 255
    loop = asyncio.new_event_loop()
    restore = wscheck._own_child_watcher(loop)

    async def run() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")
        # wait for the exit without reaping it and without letting the loop see it
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        proc.kill()
        return await proc.wait()

    try:
        assert loop.run_until_complete(run()) == 3
    finally:
        restore()
        loop.close()


def test_a_child_the_watcher_reaps_gives_its_exit_status() -> None:
    loop = asyncio.new_event_loop()
    restore = wscheck._own_child_watcher(loop)

    async def run() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(5)")
        return await proc.wait()

    try:
        assert loop.run_until_complete(run()) == 5
    finally:
        restore()
        loop.close()
