"""``mikeyshark keys resolve``: one MIKEY message, its payload tree, ticket and TEKs."""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from typing import Any, TextIO

from mikeyshark.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey.message import MikeyMessage, parse
from mikeyshark.dissectors.mikey.tree import ntp_to_text, render_tree
from mikeyshark.dissectors.secret import show_key
from mikeyshark.keyfile import KeyFile, KeyFileError
from mikeyshark.keys import (
    KmsLegResolution,
    Resolution,
    resolve_exchange,
    resolve_kms_leg,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("keys", help="MIKEY-TICKET key resolution for one message")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    r = sub.add_parser(
        "resolve",
        help="dissect a TRANSFER_INIT (or RESOLVE_INIT), open its ticket, derive the TEKs",
    )
    r.add_argument("message", metavar="MIKEY_BASE64", help="the a=key-mgmt:mikey data")
    r.add_argument("--keys", required=True, metavar="FILE", help="key file (TOML)")
    r.add_argument(
        "--resp", metavar="MIKEY_BASE64", help="the answer: TRANSFER_RESP (or RESOLVE_RESP)"
    )
    r.add_argument("--reveal-keys", action="store_true", help="print keys, not fingerprints")
    r.set_defaults(func=run)


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"{what} is not base64: {e}") from e


def run(args: argparse.Namespace) -> int:
    out: TextIO = sys.stdout
    try:
        keys = KeyFile.load(args.keys)
        init = _decode(args.message, "MIKEY_BASE64")
        resp = _decode(args.resp, "--resp") if args.resp else None
        init_msg = parse(init)
        resp_msg = parse(resp) if resp is not None else None
    except (KeyFileError, ValueError) as e:
        # DissectError is a ValueError: it names the layer, offset and field.
        print(f"mikeyshark keys: {e}", file=sys.stderr)
        return EXIT_USAGE
    for w in keys.warnings:
        print(f"warning: {w}", file=sys.stderr)
    _tree(out, "Message", init_msg, args.reveal_keys)
    if resp_msg is not None:
        _tree(out, "Response", resp_msg, args.reveal_keys)
    if init_msg.hdr.data_type == C.DATA_TYPE["RESOLVE_INIT_PSK"] and resp is not None:
        return _kms_leg(out, resolve_kms_leg(init, resp, keys), args.reveal_keys)
    return _report(out, resolve_exchange(init, resp, keys), args.reveal_keys)


def _tree(out: TextIO, title: str, msg: MikeyMessage, reveal: bool) -> None:
    print(f"{title}:", file=out)
    for depth, text in render_tree(msg, reveal):
        print("  " * (depth + 1) + text, file=out)


def _report(out: TextIO, res: Resolution, reveal: bool) -> int:
    print("Ticket:", file=out)
    for a in res.attempts:
        print(f"  tried {a}", file=out)
    t = res.ticket
    if t is not None:
        kind = "issued by the KMS" if res.mode == "kms" else "built by the initiator (mode 3)"
        print(f"  opened by {res.opened_by}: {kind} [oracle: ticket MAC]", file=out)
        print(f"  issued {ntp_to_text(0, t.t_issue)}", file=out)
        print(f"  valid  {ntp_to_text(0, t.t_start)} .. {ntp_to_text(0, t.t_end)}", file=out)
        if res.valid_at is not None:
            print(f"  valid at the time checked: {'yes' if res.valid_at else 'NO'}", file=out)
        for label, ident in (
            ("initiator", t.initiator),
            ("responder", t.responder),
            ("KMS", t.kms_uri),
        ):
            print(f"  {label}: {ident.decode('utf-8', 'replace')}", file=out)
        print(f"  MPK: {show_key(t.mpk, reveal)}", file=out)
        for i, g in enumerate(t.tgks, 1):
            print(f"  TGK {i}: {show_key(g, reveal)}", file=out)
    for label, ok in (("TRANSFER_INIT V", res.init_mac_ok), ("TRANSFER_RESP V", res.resp_mac_ok)):
        if ok is not None:
            print(f"{label}: {'verifies with the MPK' if ok else 'DOES NOT VERIFY'}", file=out)
    if res.same_csb is not None:
        print(
            f"CSB ID: 0x{res.csb_id:08x} ({'same' if res.same_csb else 'DIFFERENT'} "
            "in the response)",
            file=out,
        )
    print("Crypto sessions:", file=out)
    for cs in res.crypto_sessions:
        prot = C.PROT_TYPE.label(cs.prot_type)
        first = next((c for c in res.tek_candidates if c.cs_id == cs.cs_id), None)
        tek = f"TEK {show_key(first.key, reveal)} via {first.derivation}" if first else "no TEK"
        print(
            f"  CS {cs.cs_id} ({prot}{', TLS' if cs.is_tls else ''}): {tek} "
            "[candidate; the TLS handshake confirms it]",
            file=out,
        )
    if res.tek_candidates:
        print(f"TEK candidates: {len(res.tek_candidates)} (profile's first)", file=out)
    for n in res.notes:
        print(f"note: {n}", file=out)
    for f in res.failures:
        print(f"FAIL {f.code}: {f.reason}", file=out)
    return EXIT_FINDINGS if res.failures else EXIT_OK


def _kms_leg(out: TextIO, res: KmsLegResolution, reveal: bool) -> int:
    print("KMS leg:", file=out)
    if res.opened_by:
        print(f"  RESOLVE_INIT V verifies with {res.opened_by}", file=out)
    if res.resp_mac_ok is not None:
        print(f"  RESOLVE_RESP V: {'verifies' if res.resp_mac_ok else 'DOES NOT VERIFY'}", file=out)
    if res.mpk is not None:
        print(f"  MPK: {show_key(res.mpk, reveal)} (KEMAC IV from {res.iv_t_from})", file=out)
    for i, g in enumerate(res.tgks, 1):
        print(f"  TGK {i}: {show_key(g, reveal)}", file=out)
    for f in res.failures:
        print(f"FAIL {f.code}: {f.reason}", file=out)
    return EXIT_FINDINGS if res.failures else EXIT_OK
