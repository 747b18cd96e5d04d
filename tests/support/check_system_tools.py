"""Says which system tools the tests drive and how to get the missing ones."""

from __future__ import annotations

import shutil
import sys

TOOLS = {
    "tshark": "tshark",
    "tcpdump": "tcpdump",
    "openssl": "openssl",
    "chromium": "chromium",
    "escript": "erlang-megaco",
}


def main() -> int:
    missing = [pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        print(
            "note: tests that drive real tools will be skipped; install them with:\n"
            f"  sudo apt-get install -y {' '.join(sorted(set(missing)))}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
