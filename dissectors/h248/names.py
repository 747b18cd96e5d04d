"""Names for H.248 numbers: IANA package ids and error codes.

Package ids are what the binary encoding carries instead of a package name; the text
encoding carries the name, which :func:`package_of` maps back to the id. Base packages
were checked against the IANA "Megaco/H.248 Packages" registry as the search tool showed
it; the TCP/TLS bearer packages were not visible there and are marked unverified.
"""

from __future__ import annotations

from mikeyshark.dissectors.consts import Const, ValueTable

IANA = "IANA Megaco/H.248 package registry"
_UNSEEN = "IANA Megaco/H.248 package registry ({}), not re-checked here"

PACKAGES = ValueTable(
    "h248.package",
    [
        Const(0x0001, "g", IANA),
        Const(0x0002, "root", IANA),
        Const(0x0003, "tonegen", IANA),
        Const(0x0004, "tonedet", IANA),
        Const(0x0005, "dg", IANA),
        Const(0x0006, "dd", IANA),
        Const(0x0007, "cg", IANA),
        Const(0x0008, "cd", IANA),
        Const(0x0009, "al", IANA),
        Const(0x000A, "ct", IANA),
        Const(0x000B, "nt", IANA),
        Const(0x000C, "rtp", IANA),
        Const(0x000D, "tdmc", IANA),
        Const(0x000E, "ftmd", IANA),
        Const(0x000F, "txc", IANA),
        Const(0x0010, "txp", IANA),
        Const(0x0011, "ctyp", IANA),
        Const(0x0012, "fax", IANA),
        Const(0x0013, "ipfax", IANA),
        Const(0x0115, "tcpbcc", _UNSEEN.format("H.248.89"), verified=False),
        Const(0x0116, "tcprm", _UNSEEN.format("H.248.89"), verified=False),
        Const(0x0117, "tlsbsc", _UNSEEN.format("H.248.90"), verified=False),
        Const(0x0118, "tlscn", _UNSEEN.format("H.248.90"), verified=False),
        Const(0x0119, "tlsm", _UNSEEN.format("H.248.90"), verified=False),
        Const(0x011A, "tlstv", _UNSEEN.format("H.248.90"), verified=False),
        Const(0x011B, "seplink", _UNSEEN.format("H.248.92"), verified=False),
    ],
)
# H.248.69's MSRP packages; their individual names are not tabulated here.
MSRP_PACKAGE_IDS = range(0x00EA, 0x00F2)
PRIVATE_PACKAGE_IDS = range(0x8000, 0x10000)  # IANA: private packages


def package_label(pid: int) -> str:
    """``tdmc (0x000d)``; unnamed ids say what range they are in."""
    c = PACKAGES.get(pid)
    if c is not None:
        return f"{c.name} (0x{pid:04x})"
    if pid in MSRP_PACKAGE_IDS:
        return f"H.248.69 MSRP package (0x{pid:04x})"
    if pid in PRIVATE_PACKAGE_IDS:
        return f"private package (0x{pid:04x})"
    return f"Unknown package (0x{pid:04x})"


def package_of(pkgd_name: str) -> Const | None:
    """The IANA entry of the package of ``package/item`` (names compared lower-case)."""
    pkg = pkgd_name.partition("/")[0].lower()
    for c in PACKAGES:
        if c.name == pkg:
            return c
    return None


# Error codes of H.248.8 (the ones H.248.1 itself uses); names as Wireshark's h248 table
# spells them, which the interop tests compare.
_E = "ITU-T H.248.8 (names as Wireshark's h248.errorCode table)"
ERROR_CODES = ValueTable(
    "h248.errorCode",
    [
        Const(400, "Syntax error in message", _E),
        Const(401, "Protocol Error", _E),
        Const(402, "Unauthorized", _E),
        Const(403, "Syntax error in transaction request", _E),
        Const(406, "Version Not Supported", _E),
        Const(410, "Incorrect identifier", _E),
        Const(411, "The transaction refers to an unknown ContextId", _E),
        Const(412, "No ContextIDs available", _E),
        Const(421, "Unknown action or illegal combination of actions", _E),
        Const(422, "Syntax Error in Action", _E),
        Const(430, "Unknown TerminationID", _E),
        Const(431, "No TerminationID matched a wildcard", _E),
        Const(432, "Out of TerminationIDs or No TerminationID available", _E),
        Const(433, "TerminationID is already in a Context", _E),
        Const(434, "Max number of Terminations in a Context exceeded", _E),
        Const(435, "Termination ID is not in specified Context", _E),
        Const(440, "Unsupported or unknown Package", _E),
        Const(441, "Missing Remote or Local Descriptor", _E),
        Const(442, "Syntax Error in Command", _E),
        Const(443, "Unsupported or Unknown Command", _E),
        Const(444, "Unsupported or Unknown Descriptor", _E),
        Const(445, "Unsupported or Unknown Property", _E),
        Const(446, "Unsupported or Unknown Parameter", _E),
        Const(447, "Descriptor not legal in this command", _E),
        Const(448, "Descriptor appears twice in a command", _E),
        Const(449, "Unsupported or Unknown Parameter or Property Value", _E),
        Const(450, "No such property in this package", _E),
        Const(451, "No such event in this package", _E),
        Const(452, "No such signal in this package", _E),
        Const(453, "No such statistic in this package", _E),
        Const(454, "No such parameter value in this package", _E),
        Const(455, "Property illegal in this Descriptor", _E),
        Const(456, "Property appears twice in this Descriptor", _E),
        Const(457, "Missing parameter in signal or event", _E),
        Const(458, "Unexpected Event/Request ID", _E),
        Const(474, "Invalid SDP Syntax", _E),
        Const(500, "Internal software Failure in MG", _E),
        Const(501, "Not Implemented", _E),
        Const(502, "Not ready", _E),
        Const(503, "Service Unavailable", _E),
        Const(504, "Command Received from unauthorized entity", _E),
        Const(510, "Insufficient resources", _E),
        Const(515, "Unsupported Media Type", _E),
        Const(517, "Unsupported or invalid mode", _E),
        Const(526, "Insufficient bandwidth", _E),
        Const(529, "Internal hardware failure in MG", _E),
        Const(530, "Temporary Network failure", _E),
        Const(531, "Permanent Network failure", _E),
    ],
)

__all__ = [
    "ERROR_CODES",
    "MSRP_PACKAGE_IDS",
    "PACKAGES",
    "PRIVATE_PACKAGE_IDS",
    "package_label",
    "package_of",
]
