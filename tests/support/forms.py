"""The synthesized conference (three calls, MSRP and BFCP each) in the forms a probe meets it:
plain IPv4, inside GTP-U on N3, every packet in ESP-NULL (transport mode), IPv6, and with
TLS 1.3 media."""

from __future__ import annotations

from pathlib import Path

from mikeyshark.synth import synthesize, write_capture
from mikeyshark.synth.net import write_frames
from tests.support.tunnels import NULL_SAS, esp_frame, tunnelled

FORMS = ("plain", "gtp-u", "esp-null", "ipv6", "tls13")
SEED = 3


def write_form(form: str, directory: Path) -> tuple[Path, Path]:
    """(capture, key file) of the conference in ``form``, written into ``directory``."""
    result = synthesize("conference", seed=SEED, ipv6=form == "ipv6", tls13=form == "tls13")
    pcap = directory / f"{form}.pcap"
    if form == "gtp-u":
        write_frames(tunnelled(result.frames), pcap)
    elif form == "esp-null":
        sa = NULL_SAS["hmac-sha1-96"]
        write_frames([esp_frame(f, sa, i + 1) for i, f in enumerate(result.frames)], pcap)
    else:
        write_capture(result, pcap)
    keys = directory / f"{form}.toml"
    keys.write_text(result.keyfile_text)
    return pcap, keys
