"""``mikeyshark replay``: play a scenario live over loopback sockets, or re-send a capture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mikeyshark.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from mikeyshark.keyfile import KeyFileError
from mikeyshark.keylog import write_private
from mikeyshark.replay import ReplayError, ReplayOptions, resend_pcap, run_replay
from mikeyshark.synth import SCENARIOS


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="play a scenario live (UE, P-CSCF, MRFC, MRFP on loopback) or re-send a capture",
        description="Live: SIP over UDP through a P-CSCF relay, MSRP/BFCP over TLS-PSK with our "
        "TLS engine, on 127.0.0.10 (P-CSCF), .11.. (UEs), .20 (MRFC), .30 (MRFP). "
        "With --pcap: re-send the frames of a capture on --iface with their timing.",
    )
    p.add_argument("scenario", nargs="?", choices=list(SCENARIOS), metavar="SCENARIO")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--side",
        choices=("both", "ue", "conference"),
        default="both",
        help="run both sides (default) or one side against --target",
    )
    p.add_argument(
        "--target",
        type=_hostport,
        metavar="HOST:PORT",
        help="the real peer: the P-CSCF/focus for --side ue, the UE for --side conference",
    )
    p.add_argument("--keys", metavar="FILE", help="key file (needed to face a real peer)")
    p.add_argument("--capture", metavar="FILE", help="record the run with tcpdump/dumpcap")
    p.add_argument(
        "--all-legs",
        action="store_true",
        help="capture P-CSCF <-> MRFC too (default: the UEs' access: SIP with P-CSCF, media)",
    )
    p.add_argument("--key-out", metavar="FILE", help="write the key file of the run here")
    p.add_argument("--reliable-183", action="store_true", help="answer in a reliable 183 + PRACK")
    p.add_argument("--pcap", metavar="FILE", help="re-send this capture instead of a live run")
    p.add_argument("--iface", metavar="IF", help="interface to re-send --pcap on")
    p.add_argument("--speed", type=float, default=1.0, help="time factor for --pcap (0 = flood)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.pcap:
            if not args.iface:
                print("mikeyshark replay: --pcap needs --iface", file=sys.stderr)
                return EXIT_USAGE
            n = resend_pcap(Path(args.pcap), args.iface, args.speed)
            print(f"{n} frames sent on {args.iface}")
            return EXIT_OK
        if not args.scenario:
            print("mikeyshark replay: SCENARIO (or --pcap FILE --iface IF) needed", file=sys.stderr)
            return EXIT_USAGE
        if args.side != "both" and (args.target is None or args.keys is None):
            print(
                "mikeyshark replay: --side ue|conference needs --target and --keys", file=sys.stderr
            )
            return EXIT_USAGE
        keys = Path(args.keys).read_text(encoding="utf-8") if args.keys else None
        opts = ReplayOptions(
            scenario=args.scenario,
            seed=args.seed,
            side=args.side,
            target=args.target,
            keys=keys,
            reliable_183=args.reliable_183,
        )
        capture = Path(args.capture) if args.capture else None
        result = run_replay(opts, capture, all_legs=args.all_legs)
    except (OSError, KeyFileError, ValueError) as e:
        print(f"mikeyshark replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ReplayError as e:
        print(f"mikeyshark replay: the flow failed: {e}", file=sys.stderr)
        return EXIT_FINDINGS
    key_out = (
        Path(args.key_out) if args.key_out else (capture.with_suffix(".toml") if capture else None)
    )
    if key_out is not None and keys is None:
        write_private(key_out, result.keyfile_text.encode("utf-8"))
    for call in result.calls:
        media = ", ".join(f"{m.protocol} {m.messages} messages" for m in call.media)
        print(f"{call.call_id}: {call.scenario} {call.offerer} -> {call.answerer}: {media}")
    if capture is not None:
        print(f"capture: {capture}" + (f", keys: {key_out}" if key_out and keys is None else ""))
    return EXIT_OK
