"""Facts of tests/vectors that several test modules use (tests/vectors/README.md)."""

from __future__ import annotations

from scapy.utils import rdpcap

from mikeyshark.decrypt import PskCandidate
from tests.support.paths import VECTORS

# the PSK of every TLS vector
PSK = "657bf44e8247bee72094eafe0283ab2f"
TEK = PskCandidate(bytes.fromhex(PSK), "tek")


def tls_psk_frames(stem: str) -> list[bytes]:
    """The frames of one tests/vectors/tls_psk capture."""
    return [bytes(p) for p in rdpcap(str(VECTORS / "tls_psk" / f"{stem}.pcap"))]
