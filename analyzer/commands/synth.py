"""``mikeyshark synth``: write the capture of a scenario (and its key file)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from mikeyshark.cli import EXIT_OK, EXIT_USAGE
from mikeyshark.keyfile import KeyFileError
from mikeyshark.keylog import write_private
from mikeyshark.synth import FAULTS, SCENARIOS, synthesize, write_capture
from mikeyshark.synth.faults import CAPTURE_POINTS
from mikeyshark.synth.mp import TRANSPORTS as MP_TRANSPORTS


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth",
        help="synthesize a capture of a TR 29.828 call flow, optionally with faults",
        description="Write SCENARIO as pcap (or pcapng, by the name's extension) and, unless "
        "--keys is given, a key file beside it (FILE with the extension .toml).",
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", choices=list(SCENARIOS))
    p.add_argument("-o", "--output", metavar="FILE", help="capture to write (.pcap / .pcapng)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        choices=sorted(FAULTS),
        help="apply a fault (repeatable; docs/rules.md names the rule each trips)",
    )
    p.add_argument("--seed", type=int, default=0, help="one seed gives one capture, byte for byte")
    p.add_argument("--keys", metavar="FILE", help="issue tickets with this key file's keys")
    p.add_argument(
        "--key-out", metavar="FILE", help="where to write the key file (default FILE.toml)"
    )
    p.add_argument(
        "--mode3",
        action="store_true",
        help="the initiator builds the ticket with its own key shared with the KMS",
    )
    p.add_argument(
        "--reliable-183",
        action="store_true",
        help="the answer travels in a reliable 183 (100rel) acknowledged by PRACK",
    )
    p.add_argument(
        "--keylog", metavar="FILE", help="also write the TLS sessions' NSS key log (for Wireshark)"
    )
    p.add_argument("--now", action="store_true", help="start at the wall clock, not the base time")
    p.add_argument(
        "--ipv6",
        action="store_true",
        help="every node on IPv6 (documentation prefix 2001:db8::/32)",
    )
    p.add_argument(
        "--tls13",
        action="store_true",
        help="every media connection in TLS 1.3 (psk_ke, TLS_AES_128_GCM_SHA256)",
    )
    p.add_argument(
        "--capture-point",
        choices=CAPTURE_POINTS,
        default="ue",
        help="where the capture is taken: at the UEs' access (SIP with the P-CSCF, media), or "
        "beside the MRF (SIP at the MRFC, the Mp leg, the KMS leg, media)",
    )
    p.add_argument(
        "--mp-transport",
        choices=MP_TRANSPORTS,
        default="udp",
        help="the Mp leg over UDP, or over TCP with TPKT framing (capture point mrf)",
    )
    p.add_argument("--list", action="store_true", help="list scenarios and faults")
    p.set_defaults(func=run)


def _list() -> int:
    print("scenarios:")
    for name, summary in SCENARIOS.items():
        print(f"  {name:<22} {summary}")
    print("faults (those of the Mp leg need --capture-point mrf):")
    for f in FAULTS.values():
        print(f"  {f.name:<22} {f.rule:<21} {f.summary}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.scenario or not args.output:
        print("mikeyshark synth: SCENARIO and -o FILE are required (or --list)", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.output)
    for option, target in (("-o", out), ("--key-out", args.key_out), ("--keylog", args.keylog)):
        if target and not Path(target).parent.is_dir():
            print(
                f"mikeyshark synth: {option} {target}: no such directory {Path(target).parent}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        keys = Path(args.keys).read_text(encoding="utf-8") if args.keys else None
        now_ns = time.time_ns() if args.now else None
        result = synthesize(
            args.scenario,
            faults=tuple(args.fault),
            seed=args.seed,
            keys=keys,
            mode3=args.mode3,
            reliable_183=args.reliable_183,
            now_ns=now_ns,
            ipv6=args.ipv6,
            tls13=args.tls13,
            capture_point=args.capture_point,
            mp_transport=args.mp_transport,
        )
    except (OSError, KeyFileError, ValueError, NotImplementedError) as e:
        print(f"mikeyshark synth: {e}", file=sys.stderr)
        return EXIT_USAGE
    written = [str(out)]
    try:
        write_capture(result, out)
        if args.keylog:
            lines = [ln for c in result.calls for m in c.media for ln in m.keylog]
            write_private(args.keylog, "".join(f"{ln}\n" for ln in lines).encode("ascii"))
            written.append(args.keylog)
        # the key file beside the capture, unless the keys came from one; --key-out always
        if keys is None or args.key_out:
            key_out = Path(args.key_out) if args.key_out else out.with_suffix(".toml")
            write_private(key_out, result.keyfile_text.encode("utf-8"))
            written.append(str(key_out))
    except OSError as e:
        print(f"mikeyshark synth: cannot write: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{len(result.frames)} frames, {len(result.calls)} calls -> {', '.join(written)}")
    return EXIT_OK
