"""Where the tests find the repository's files, wherever the test module sits."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
PCAPS = ROOT / "pcaps"
DEMO_KEYS = PCAPS / "demo-keys.toml"
