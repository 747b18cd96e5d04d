"""Records what `mikeyshark analyze` and `mikeyshark dissect -V` write for every shipped capture,
so that a change of layout can be shown to leave every output as it was.

Run from the repository root: `python tests/support/golden.py` (rewrites tests/golden/out/).
A change that alters an output on purpose re-records in the same commit, so the diff shows it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "out"

# capture (relative to the root) -> extra analyze/dissect arguments
CASES: dict[str, list[str]] = {
    "pcaps/conference.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "pcaps/conference-mrf.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "pcaps/msrp-dial-in.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "pcaps/msrp-dial-out.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "pcaps/bfcp-dial-in.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "pcaps/bfcp-dial-out.pcap": ["--keys", "pcaps/demo-keys.toml"],
    "tests/vectors/sip/sip_sdp_keymgmt.pcap": [],
    "tests/vectors/mikey/mikey_psk_init.pcap": [],
    "tests/vectors/app/plain_msrp.pcap": [],
    "tests/vectors/app/plain_bfcp.pcap": [],
}
for _name in ("psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"):
    _v = json.loads((ROOT / "tests/vectors/tls_psk" / f"{_name}.json").read_text())
    CASES[f"tests/vectors/tls_psk/{_name}.pcap"] = ["--psk", _v["psk_hex"]]

# what depends on the machine or the clock: the terminal's elapsed time, the HTML's date
_ELAPSED = re.compile(r"(\d+ frames?) in [0-9.]+ s")
_GENERATED = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")


def normalize(text: str) -> str:
    return _GENERATED.sub("generated T", _ELAPSED.sub(r"\1 in T s", text))


_OPTION = {"json": "--json", "html": "--html", "xml": "--junit"}


def stem(capture: str) -> str:
    return Path(capture).stem


def analyze_outputs(
    mikeyshark: list[str], capture: str, args: list[str], tmp: Path, html: bool = True
) -> dict[str, str]:
    """Terminal, JSON, HTML and JUnit of one analyze run (and its exit code); without
    ``html``, the outputs analyze writes as the calls end (no HTML)."""
    name = stem(capture)
    kinds = ("json", "html", "xml") if html else ("json", "xml")
    files = {ext: tmp / f"{name}.{ext}" for ext in kinds}
    run = subprocess.run(
        [
            *mikeyshark,
            "analyze",
            capture,
            *args,
            *(a for ext, path in files.items() for a in (_OPTION[ext], str(path))),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    out = {ext: normalize(p.read_text(encoding="utf-8")) for ext, p in files.items()}
    out["txt"] = f"exit {run.returncode}\n" + normalize(run.stdout)
    return out


def dissect_output(mikeyshark: list[str], capture: str, args: list[str]) -> str:
    run = subprocess.run(
        [*mikeyshark, "dissect", "-V", capture, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    return f"exit {run.returncode}\n{run.stdout}"


def main() -> None:
    import tempfile

    mikeyshark = [str(Path(sys.executable).parent / "mikeyshark")]
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        for capture, args in CASES.items():
            name = stem(capture)
            for ext, text in analyze_outputs(mikeyshark, capture, args, Path(t)).items():
                (OUT / f"{name}.analyze.{ext}").write_text(text, encoding="utf-8")
            (OUT / f"{name}.dissect.txt").write_text(
                dissect_output(mikeyshark, capture, args), encoding="utf-8"
            )


if __name__ == "__main__":
    main()
