"""The ``mikeyshark`` command line: one subcommand module per verb in mikeyshark.commands."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mikeyshark.version import __version__

if TYPE_CHECKING:
    from mikeyshark.keyfile import KeyFile, TekKey

# Each module has add_parser(subparsers) and run(args) -> int. Only the module of the verb
# being run is imported: the synthesizer pulls in scapy, which costs a second at start-up.
COMMANDS: dict[str, str] = {
    "analyze": "check every call of the captures against the TR 29.828 flows",
    "dissect": "Wireshark-like packet list (and detail tree with -V) of a capture",
    "keys": "MIKEY-TICKET key resolution for one message",
    "synth": "synthesize a capture of a TR 29.828 call flow, optionally with faults",
    "replay": "play a scenario live (UE, P-CSCF, MRFC, MRFP on loopback) or re-send a capture",
}

# The exit codes of every verb (docs/cli.md), defined here only.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "analyze: no rule failed (with --strict: at least one call, and every call passed); "
    "the other verbs: done",
    EXIT_FINDINGS: "analyze: at least one rule failed (with --strict: also no call, or a call "
    "incomplete); keys resolve: a resolution step failed; replay: the live flow failed",
    EXIT_USAGE: "bad arguments, or input that cannot be used (no capture, an unreadable or "
    "invalid key file, a bad --psk)",
    EXIT_INTERNAL: "a bug: an exception nothing expected (never reported as findings)",
    EXIT_INTERRUPTED: "stopped by Ctrl-C (SIGINT); its temporary files removed",
    EXIT_TERMINATED: "stopped by SIGTERM; its temporary files removed",
}


def add_key_options(parser: argparse.ArgumentParser, *, psk_help: str) -> None:
    """``--keys``, ``--psk`` and ``--reveal-keys``, the same for every verb that reads keys."""
    parser.add_argument("--keys", metavar="FILE", help="key file (TOML): KMS keys, PSKs, policy")
    parser.add_argument(
        "--psk", action="append", default=[], metavar="HEX[:IDENTITY]", help=psk_help
    )
    parser.add_argument(
        "--reveal-keys", action="store_true", help="show keys in full, not fingerprints"
    )


def keys_from(args: argparse.Namespace) -> tuple[KeyFile | None, tuple[TekKey, ...]]:
    """The key file of ``--keys`` (None without) and the keys of ``--psk``.

    Raises :class:`~mikeyshark.keyfile.KeyFileError` or ``ValueError`` (a usage error)."""
    from mikeyshark.keyfile import KeyFile, parse_psk

    keys = KeyFile.load(args.keys) if args.keys else None
    for w in keys.warnings if keys is not None else ():
        print(f"mikeyshark: warning: {w}", file=sys.stderr)
    return keys, tuple(parse_psk(p) for p in args.psk)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser, with only the subcommand ``verb``'s module imported and set up."""
    parser = argparse.ArgumentParser(
        prog="mikeyshark",
        description="Analyze captures of MIKEY-TICKET keyed TLS-PSK conference media (MSRP, BFCP).",
    )
    parser.add_argument("--version", action="version", version=f"mikeyshark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if name == verb:
            module = importlib.import_module(f"mikeyshark.commands.{name}")
            module.add_parser(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def _verb(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


class Terminated(BaseException):
    """SIGTERM: the run stops as on Ctrl-C, its temporary files (spools, worker results)
    removed on the way out, where the signal's default action would leave them."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb(argv)
    parser = build_parser(verb)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # `mikeyshark dissect big.pcap | head` is normal use, not an error.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated:
        return EXIT_TERMINATED
    except Exception:
        # Bad input is reported where it is found; what reaches here is a bug.
        traceback.print_exc()
        print(f"mikeyshark: internal error (exit {EXIT_INTERNAL})", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
