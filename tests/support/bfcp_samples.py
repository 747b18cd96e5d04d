"""BFCP messages written out by hand (RFC 8855), shared by the codec and framer tests."""

from __future__ import annotations

# Examples in RFC 8855's layout, checked against tshark on the vector.
HELLO = bytes.fromhex("200b0000 00000001 0001 0002")


HELLO_ACK = bytes.fromhex(
    "200c0009 00000001 0001 0002"
    " 170e 0102030405060708090a0b0c 0000"
    " 1514 020406080a0c0e10121416181a1c1e202224"
)


FLOOR_REQUEST = bytes.fromhex("20010001 00000001 0002 0002 05040001")


# FloorRequestStatus (Granted), written out from the RFC 4582 section 5.2 layouts:
#   header     20 04 0007 | 00000001 | 0003 | 0002       ver 1, primitive 4, 7 words
#   FRI        1f 1c 0001                                type 15 M=1, length 4+20+4 = 28
#     ORS      25 14 0001                                type 18 M=1, length 4+4+12 = 20
#       RS     0b 04 03 00                               type 5 M=1, Granted, queue 0
#       SI     13 09 "Granted" 000000                    type 9 M=1, length 9, 3 bytes pad
#     FRS      23 04 0001                                type 17 M=1, floor 1
# The grouped Lengths count nested padding, as libbfcp's builder does.
GRANTED = bytes.fromhex(
    "20040007 00000001 0003 0002 1f1c 0001 2514 0001 0b04 0300 1309 4772616e746564 000000 2304 0001"
)
