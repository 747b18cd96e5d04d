"""MSRP and BFCP in the packet list and the detail tree: the codecs' own Info fragments and
detail rows (dissectors.msrp / dissectors.bfcp), registered as renderers, and their named
fields (Wireshark's names)."""

from __future__ import annotations

from typing import TypeVar

from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.view.frame import Renderer, register, rows_node
from mikeyshark.view.layers import Fmt, Layer, named_field

A = TypeVar("A")
_IdAttr = bfcplib.BeneficiaryId | bfcplib.FloorId | bfcplib.FloorRequestId
_Group = (
    bfcplib.BeneficiaryInformation
    | bfcplib.FloorRequestInformation
    | bfcplib.OverallRequestStatus
    | bfcplib.FloorRequestStatus
)


class MsrpLayer(Layer):
    """One MSRP message's fields."""

    name = "msrp"

    def __init__(self, msg: msrplib.Message) -> None:
        self.msg = msg

    @named_field("msrp.request.line", "Request Line", Fmt.TEXT)
    def request_line(self) -> str | None:
        m = self.msg
        return f"MSRP {m.transaction_id} {m.method}" if m.method is not None else None

    @named_field("msrp.response.line", "Response Line", Fmt.TEXT)
    def response_line(self) -> str | None:
        m = self.msg
        if m.status is None:
            return None
        comment = f" {m.comment}" if m.comment is not None else ""
        return f"MSRP {m.transaction_id} {m.status:03d}{comment}"

    @named_field("msrp.transaction.id", "Transaction Id", Fmt.TEXT)
    def transaction_id(self) -> str:
        return self.msg.transaction_id

    @named_field("msrp.method", "Method", Fmt.TEXT)
    def method(self) -> str | None:
        return self.msg.method

    @named_field("msrp.status.code", "Status code")
    def status_code(self) -> int | None:
        return self.msg.status

    @named_field("msrp.to.path", "To Path", Fmt.TEXT)
    def to_path(self) -> str | None:
        return self.msg.header("To-Path")

    @named_field("msrp.from.path", "From Path", Fmt.TEXT)
    def from_path(self) -> str | None:
        return self.msg.header("From-Path")

    @named_field("msrp.messageid", "Message ID", Fmt.TEXT)
    def messageid(self) -> str | None:
        return self.msg.message_id

    @named_field("msrp.byte.range", "Byte Range", Fmt.TEXT)
    def byte_range(self) -> str | None:
        return self.msg.header("Byte-Range")

    @named_field("msrp.status", "Status", Fmt.TEXT)
    def status(self) -> str | None:
        return self.msg.header("Status")

    @named_field("msrp.success.report", "Success Report", Fmt.TEXT)
    def success_report(self) -> str | None:
        return self.msg.success_report

    @named_field("msrp.failure.report", "Failure Report", Fmt.TEXT)
    def failure_report(self) -> str | None:
        return self.msg.failure_report

    @named_field("msrp.content.type", "Content-Type", Fmt.TEXT)
    def content_type(self) -> str | None:
        return self.msg.content_type

    @named_field("msrp.end.line", "End Line", Fmt.TEXT)
    def end_line(self) -> str:
        return f"-------{self.msg.transaction_id}{self.msg.flag}"

    @named_field("msrp.cnt.flg", "Continuation-flag", Fmt.TEXT)
    def cnt_flg(self) -> str:
        return self.msg.flag


class BfcpLayer(Layer):
    """One BFCP message's fields; the attribute fields hold every occurrence, nested ones
    included (a FLOOR-ID inside FLOOR-REQUEST-INFORMATION, ...)."""

    name = "bfcp"

    def __init__(self, msg: bfcplib.Message) -> None:
        self.msg = msg

    def _all(self, cls: type[A]) -> list[A]:
        return [a for a in bfcplib.walk(self.msg.attributes) if isinstance(a, cls)]

    @named_field("bfcp.ver", "Version(ver)")
    def ver(self) -> int:
        return self.msg.version

    @named_field("bfcp.hdr_r_bit", "Transaction Responder (R)", Fmt.BOOL)
    def hdr_r_bit(self) -> bool:
        return self.msg.responder

    @named_field("bfcp.hdr_f_bit", "Fragmentation (F)", Fmt.BOOL)
    def hdr_f_bit(self) -> bool:
        return self.msg.fragment is not None

    @named_field("bfcp.primitive", "Primitive")
    def primitive(self) -> int:
        return self.msg.primitive

    @named_field("bfcp.conference_id", "Conference ID")
    def conference_id(self) -> int:
        return self.msg.conference_id

    @named_field("bfcp.transaction_id", "Transaction ID")
    def transaction_id(self) -> int:
        return self.msg.transaction_id

    @named_field("bfcp.user_id", "User ID")
    def user_id(self) -> int:
        return self.msg.user_id

    @named_field("bfcp.attribute_type", "Attribute Type", many=True)
    def attribute_type(self) -> tuple[int, ...]:
        return tuple(bfcplib.attribute_type(a) for a in bfcplib.walk(self.msg.attributes))

    def _ids(self, single: type[_IdAttr], *groups: type[_Group]) -> tuple[int, ...]:
        """The values of an ID attribute and the ids that head the grouped attributes
        (RFC 8855 5.2: a FLOOR-REQUEST-STATUS starts with its floor's id, a
        FLOOR-REQUEST-INFORMATION with its request's), in the message's order."""
        out = []
        for a in bfcplib.walk(self.msg.attributes):
            if isinstance(a, single):
                out.append(a.value)
            elif isinstance(a, groups):
                out.append(a.id)
        return tuple(out)

    @named_field("bfcp.beneficiary_id", "BENEFICIARY-ID", many=True)
    def beneficiary_id(self) -> tuple[int, ...]:
        return self._ids(bfcplib.BeneficiaryId, bfcplib.BeneficiaryInformation)

    @named_field("bfcp.floor_id", "FLOOR-ID", many=True)
    def floor_id(self) -> tuple[int, ...]:
        return self._ids(bfcplib.FloorId, bfcplib.FloorRequestStatus)

    @named_field("bfcp.floorrequest_id", "FLOOR-REQUEST-ID", many=True)
    def floorrequest_id(self) -> tuple[int, ...]:
        return self._ids(
            bfcplib.FloorRequestId, bfcplib.FloorRequestInformation, bfcplib.OverallRequestStatus
        )

    @named_field("bfcp.request_status", "Request Status", many=True)
    def request_status(self) -> tuple[int, ...]:
        return tuple(a.status for a in self._all(bfcplib.RequestStatus))

    @named_field("bfcp.queue_pos", "Queue Position", many=True)
    def queue_pos(self) -> tuple[int, ...]:
        return tuple(a.queue_position for a in self._all(bfcplib.RequestStatus))

    @named_field("bfcp.error_code", "Error Code", many=True)
    def error_code(self) -> tuple[int, ...]:
        return tuple(a.code for a in self._all(bfcplib.ErrorCode))

    @named_field("bfcp.supp_primitive", "Supported Primitive", many=True)
    def supp_primitive(self) -> tuple[int, ...]:
        return tuple(p for a in self._all(bfcplib.SupportedPrimitives) for p in a.primitives)

    @named_field("bfcp.supp_attr", "Supported Attribute", many=True)
    def supp_attr(self) -> tuple[int, ...]:
        return tuple(t for a in self._all(bfcplib.SupportedAttributes) for t in a.types)

    @named_field("bfcp.user_disp_name", "Name", Fmt.TEXT, many=True)
    def user_disp_name(self) -> tuple[str, ...]:
        return tuple(a.text for a in self._all(bfcplib.UserDisplayName))

    @named_field("bfcp.user_uri", "URI", Fmt.TEXT, many=True)
    def user_uri(self) -> tuple[str, ...]:
        return tuple(a.text for a in self._all(bfcplib.UserUri))


register(
    "msrp",
    Renderer(
        lambda m: "MSRP",
        msrplib.column_info,
        lambda m: rows_node(msrplib.detail_tree(m)),
        msrplib.column_suffix,
        lambda m: [MsrpLayer(m)],
    ),
)
register(
    "bfcp",
    Renderer(
        lambda m: "BFCP",
        bfcplib.column_info,
        lambda m: rows_node(bfcplib.detail_tree(m)),
        layers=lambda m: [BfcpLayer(m)],
    ),
)
