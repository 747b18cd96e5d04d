"""H.248 / Megaco (the Mp leg) in the packet list and the detail tree: the codec's own Info
column (tshark's form: ``1001 Request |=NULL Add=A4444``) and detail rows
(dissectors.h248.tree), with the Mp profile's items named by meaning and the PSK they carry
as a fingerprint unless keys are revealed; and the named fields (Wireshark's)."""

from __future__ import annotations

from dataclasses import dataclass

from mikeyshark.dissectors.h248 import mp
from mikeyshark.dissectors.h248 import tree as h248tree
from mikeyshark.dissectors.h248.model import (
    Action,
    MegacoMessage,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
)
from mikeyshark.view.frame import Renderer, register, rows_node
from mikeyshark.view.layers import Fmt, Layer, named_field

_WILDCARDS = {"$": "WildCard any", "*": "WildCard all"}


@dataclass(frozen=True, slots=True)
class MegacoPdu:
    """One H.248 message, with what its tree needs: the Mp profile's names, whether keys
    may be shown."""

    msg: MegacoMessage
    profile: mp.MpProfile = mp.DEFAULT_PROFILE
    reveal: bool = False


class MegacoLayer(Layer):
    """One H.248 message's fields (one value per transaction, action or command)."""

    name = "megaco"

    def __init__(self, msg: MegacoMessage) -> None:
        self.msg = msg

    def _actions(self) -> list[Action]:
        return [
            a
            for t in self.msg.transactions
            if isinstance(t, TransactionRequest | TransactionReply)
            for a in t.actions
        ]

    @named_field("megaco.version", "Version", Fmt.TEXT)
    def version(self) -> str:
        return str(self.msg.version)

    @named_field("megaco.mId", "MID", Fmt.TEXT)
    def mid(self) -> str:
        return str(self.msg.mid)

    @named_field("megaco.transid", "Transaction ID", many=True)
    def transid(self) -> tuple[int, ...]:
        return tuple(
            t.id
            for t in self.msg.transactions
            if isinstance(t, TransactionRequest | TransactionReply | TransactionPending)
        )

    @named_field("megaco.context", "Context", many=True)
    def context(self) -> tuple[int, ...]:
        return tuple(a.context_number for a in self._actions())

    @named_field("megaco.command", "Command", Fmt.TEXT, many=True)
    def command(self) -> tuple[str, ...]:
        return tuple(c.name for a in self._actions() for c in a.commands)

    @named_field("megaco.termid", "Termination ID", Fmt.TEXT, many=True)
    def termid(self) -> tuple[str, ...]:
        # tshark names the two whole-id wildcards (H.248.1 6.2.1) instead of showing them
        return tuple(
            _WILDCARDS.get(tid, tid)
            for a in self._actions()
            for c in a.commands
            for tid in c.termination_ids
        )


register(
    "megaco",
    Renderer(
        lambda p: "MEGACO",
        lambda p: h248tree.column_info(p.msg) + " ",
        lambda p: rows_node(h248tree.detail_tree(p.msg, p.profile, p.reveal)),
        layers=lambda p: [MegacoLayer(p.msg)],
    ),
)
