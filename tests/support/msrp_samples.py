"""MSRP messages written out by hand in the RFC 4975 format (codec and framer tests)."""

from __future__ import annotations

# RFC 4975 7.1, the SEND of the app/ and tls_psk/ vectors (tshark decodes it the same).
SEND = (
    b"MSRP a786hjs2 SEND\r\n"
    b"To-Path: msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp\r\n"
    b"From-Path: msrps://192.0.2.1:50000/asfd34;tcp\r\n"
    b"Message-ID: 87652491\r\n"
    b"Byte-Range: 1-37/37\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Hello Bob, this is MSRP over TLS-PSK.\r\n"
    b"-------a786hjs2$\r\n"
)


OK = (
    b"MSRP a786hjs2 200 OK\r\n"
    b"To-Path: msrps://192.0.2.1:50000/asfd34;tcp\r\n"
    b"From-Path: msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp\r\n"
    b"-------a786hjs2$\r\n"
)


# RFC 4975 section 7.1 / 7.1.3 style: a chunk whose end is unknown ("*"), its REPORT.
CHUNK_STAR = (
    b"MSRP dkei38sd SEND\r\n"
    b"To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
    b"From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    b"Message-ID: 456s9wlk3\r\n"
    b"Byte-Range: 1-*/8191\r\n"
    b"Success-Report: yes\r\n"
    b"Failure-Report: partial\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"abcdefghij\r\n"
    b"-------dkei38sd+\r\n"
)


REPORT = (
    b"MSRP dkei38sd REPORT\r\n"
    b"To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    b"From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
    b"Message-ID: 456s9wlk3\r\n"
    b"Byte-Range: 1-8191/8191\r\n"
    b"Status: 000 200 OK\r\n"
    b"-------dkei38sd$\r\n"
)
