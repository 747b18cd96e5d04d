"""Where a side of an m-line listens and connects from, as its SDP says."""

from __future__ import annotations

from mikeyshark.evidence import SdpMedia
from mikeyshark.model import Endpoint


def _side(address: str | None, *paths: str) -> SdpMedia:
    return SdpMedia(1, 0, "message", 47530, "TCP/TLS/MSRP", address, path=paths)


def test_c_m_and_every_a_path_with_a_port_in_rfc5952_form() -> None:
    side = _side(
        "192.0.2.15",
        "msrps://[2001:DB8:0:0::11]:7000/s1;tcp",  # RFC 5952: 2001:db8::11
        "msrp://relay.example.org/s2;tcp",  # no port: connects from, listens nowhere
        "not a uri",
    )
    eps, ips = side.listens(msrp_paths=True)
    assert eps == {Endpoint("192.0.2.15", 47530), Endpoint("2001:db8::11", 7000)}
    assert ips == {"192.0.2.15", "2001:db8::11", "relay.example.org"}


def test_bfcp_has_no_paths_and_a_missing_c_no_address() -> None:
    side = _side(None, "msrp://192.0.2.99:7000/s;tcp")
    assert side.listens(msrp_paths=False) == (frozenset(), frozenset())
    assert side.listens(msrp_paths=True) == (
        frozenset({Endpoint("192.0.2.99", 7000)}),
        frozenset({"192.0.2.99"}),
    )
