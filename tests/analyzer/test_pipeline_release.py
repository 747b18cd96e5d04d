"""Each call is finalized when it has ended: memory follows the calls open at once.

200 tunnelled UEs, each with its own MSRP dial-in call, the calls one after another (at most
three overlapping, ~2 s apart in capture time), against 50 of them. What a finalized call
keeps is its report entry (SDP, MIKEY trees, the decrypted MSRP messages and chat, the
decrypted records for the key-log and decrypted-pcap exports); the working state of the
analysis besides that — SIP records, connection bytes, decoders — must not grow with the
calls of the capture. Measured when written: working state (peak minus what the result
holds) 1.7 MB for 50 calls and 1.4 MB for 200 (before finalizing per call: 2.2 and 9.1 MB);
the result holds ~72 KB per call, most of it the chat and its decrypted bytes.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from mikeyshark.keyfile import KeyFile
from mikeyshark.pipeline import CaptureResult, analyze_capture
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.tunnels import many_ues


def _measure(path: Path, keys: KeyFile) -> tuple[int, int, CaptureResult]:
    """(peak, held at the end with the result alive, result)."""
    gc.collect()
    tracemalloc.start()
    try:
        res = analyze_capture(str(path), keys)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, held, res


def test_200_sequential_calls_need_no_more_working_memory_than_50(tmp_path: Path) -> None:
    keys = KeyFile.parse(synthesize("msrp-dial-in", seed=6).keyfile_text)
    few, many = tmp_path / "50.pcap", tmp_path / "200.pcap"
    write_frames(many_ues(50), few)
    write_frames(many_ues(200), many)
    peak_few, held_few, res_few = _measure(few, keys)
    peak_many, held_many, res_many = _measure(many, keys)
    assert (len(res_few.calls), len(res_many.calls)) == (50, 200)
    # every call was bound and decrypted, finalized early or at the end alike
    assert all(c.media and c.media[0].tls and c.media[0].tls.decrypted for c in res_many.calls)
    assert len(res_many.connections) == 200
    # in the order the calls were first seen: many_ues numbers the Call-IDs in time order
    ids = [c.call_id for c in res_many.calls]
    assert ids == sorted(ids)
    work_few, work_many = peak_few - held_few, peak_many - held_many
    assert work_many < 1.5 * work_few, (work_few, work_many)
    per_call = (held_many - held_few) / 150
    assert per_call < 100_000, per_call
