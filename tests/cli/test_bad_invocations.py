"""Every bad invocation ends with one line on stderr naming the file or option, never a key's
bytes, and exit status 2; files holding key material are created private (0600) whatever
the umask. Each case is one the hostile-input review met."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.paths import DEMO_KEYS, PCAPS

KMS_ONLY = (
    '[[kms]]\nuri = "kms.example.org"\n'
    'master_key = "f5b165224a58b791df6af1d8303e61cdc4bb86c3d1c427103c344c4189eb2f1e"\n'
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, with the usual umask (022: new files world-readable)."""
    return subprocess.run(
        [sys.executable, "-m", "mikeyshark", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_synth_into_a_missing_directory(tmp_path: Path) -> None:
    run = cli("synth", "msrp-dial-in", "-o", "nowhere/x.pcap", cwd=tmp_path)
    assert run.returncode == 2
    assert one_line(run.stderr) == (
        "mikeyshark synth: -o nowhere/x.pcap: no such directory nowhere"
    )


def test_synth_mode3_needs_the_initiators_psk(tmp_path: Path) -> None:
    (tmp_path / "kms.toml").write_text(KMS_ONLY)
    run = cli(
        "synth", "msrp-dial-in", "--mode3", "--keys", "kms.toml", "-o", "m.pcap", cwd=tmp_path
    )
    assert run.returncode == 2
    assert one_line(run.stderr) == (
        "mikeyshark synth: --mode3: the key file has no [[psk]] for sip:alice@example.org "
        "(the initiator's key shared with the KMS, with which it builds its ticket)"
    )
    assert not (tmp_path / "m.pcap").exists()


def test_key_material_is_created_private(tmp_path: Path) -> None:
    run = cli("synth", "msrp-dial-in", "-o", "a.pcap", "--keylog", "a.log", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # with --keys, --key-out still writes the key file that opens the capture (the given one)
    run = cli(
        "synth",
        "msrp-dial-out",
        "-o",
        "b.pcap",
        "--keys",
        "a.toml",
        "--key-out",
        "b.toml",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "b.toml").read_text() == (tmp_path / "a.toml").read_text()
    run = cli(
        "analyze",
        "a.pcap",
        "--keys",
        "a.toml",
        "--quiet",
        "--keylog",
        "k.log",
        "--inject-secrets",
        "s.pcapng",
        "--json",
        "r.json",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    private = ["a.toml", "a.log", "b.toml", "k.log", "s.pcapng"]
    assert {f: oct(mode(tmp_path / f)) for f in private} == {f: "0o600" for f in private}
    # what holds no key keeps the usual mode
    assert {oct(mode(tmp_path / f)) for f in ("a.pcap", "r.json")} == {"0o644"}


def test_unusable_capture_is_said_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "text.pcap").write_text("hello\n")
    for quiet in (["--quiet"], []):
        run = cli("analyze", "text.pcap", *quiet, cwd=tmp_path)
        assert run.returncode == 2
        assert "mikeyshark analyze: text.pcap: not a pcap or pcapng file (magic 68656c6c)" in (
            run.stderr.splitlines()
        )
        if quiet:
            assert run.stdout == ""
    run = cli("analyze", "missing.pcap", "--quiet", cwd=tmp_path)
    assert run.returncode == 2
    assert one_line(run.stderr) == (
        "mikeyshark analyze: missing.pcap: cannot open: No such file or directory"
    )


def test_a_binary_key_log_names_the_option_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "bin.log").write_bytes(b"CLIENT_RANDOM \x89PNG\r\n")
    for option in ("--tls-keylog", "--sip-keylog"):
        run = cli("analyze", str(PCAPS / "msrp-dial-in.pcap"), option, "bin.log", cwd=tmp_path)
        assert run.returncode == 2
        assert one_line(run.stderr) == (
            "mikeyshark analyze: --tls-keylog bin.log: not an NSS key log "
            "(byte 0x89 at offset 14 is not text)"
        )


def test_a_psk_typo_never_echoes_the_key(tmp_path: Path) -> None:
    key = "0011223344556677889900aabbccddeg"  # the last digit is not hex
    run = cli("analyze", str(PCAPS / "msrp-dial-in.pcap"), "--psk", key, cwd=tmp_path)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert line.startswith("mikeyshark analyze: --psk")
    assert "00112233" not in line and "ccddeg" not in line


def test_a_short_key_is_loaded_with_a_warning(tmp_path: Path) -> None:
    short = DEMO_KEYS.read_text().replace(
        DEMO_KEYS.read_text().split('master_key = "')[1].split('"')[0], "0011223344", 1
    )
    (tmp_path / "short.toml").write_text(short)
    line = next(n for n, t in enumerate(short.splitlines(), 1) if "0011223344" in t)
    run = cli(
        "analyze", str(PCAPS / "msrp-dial-in.pcap"), "--keys", "short.toml", "--quiet", cwd=tmp_path
    )
    assert run.returncode == 1  # the ticket does not open with it: a finding, not a usage error
    assert one_line(run.stderr) == (
        f"mikeyshark: warning: short.toml:{line}: [[kms]] #1 master_key is 5 bytes, under 16: "
        "is it whole?"
    )
