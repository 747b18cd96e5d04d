"""An error raised in a worker process reaches the parent as itself: the process pool pickles
it there and unpickles it here (a DissectError used to break the pool instead,
``BrokenProcessPool``, losing which layer and which field). The analysis turns a worker's
failure into its capture's problem (tests/analyzer/test_fault_barrier.py); what is pickled
must still come back whole, wherever it crosses."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from mikeyshark.dissectors.errors import DissectError


def fail_in_worker(name: str) -> None:
    raise DissectError("sip", 7, f"malformed CSeq in {name}", "cseq", "sip.cseq.malformed")


def test_a_worker_error_crosses_the_process_boundary_intact() -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        future = pool.submit(fail_in_worker, "a.pcap")
        with pytest.raises(DissectError) as info:
            future.result()
    e = info.value
    assert (e.layer, e.offset, e.field, e.reason, e.code) == (
        "sip",
        7,
        "cseq",
        "malformed CSeq in a.pcap",
        "sip.cseq.malformed",
    )
