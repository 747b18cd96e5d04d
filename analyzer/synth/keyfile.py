"""Writes the key file (DESIGN.md "Key file") that opens a synthesized capture's tickets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


def _s(value: str) -> str:
    # A TOML basic string has JSON's escapes for the characters a URI can hold.
    return json.dumps(value, ensure_ascii=False)


@dataclass(slots=True)
class KeyFile:
    kms: list[tuple[str, bytes]] = field(default_factory=list)  # (uri, master key)
    psk: list[tuple[str, bytes]] = field(default_factory=list)  # (identity, key shared with KMS)
    conference_uri: str | None = None
    authorized: list[str] = field(default_factory=list)

    def to_toml(self, comment: str = "") -> str:
        lines: list[str] = [f"# {line}" for line in comment.splitlines()]
        for uri, key in self.kms:
            lines += ["", "[[kms]]", f"uri = {_s(uri)}", f'master_key = "{key.hex()}"']
        for identity, key in self.psk:
            lines += ["", "[[psk]]", f"identity = {_s(identity)}", f'key = "{key.hex()}"']
        if self.conference_uri is not None:
            members = ", ".join(_s(u) for u in self.authorized)
            lines += [
                "",
                "[conference]",
                f"uri = {_s(self.conference_uri)}",
                f"authorized = [{members}]",
            ]
        return "\n".join(lines).lstrip("\n") + "\n"
