"""MSRP and BFCP in the packet list and the detail tree: the codecs' own Info fragments and
detail rows (dissectors.msrp / dissectors.bfcp), registered as renderers."""

from __future__ import annotations

from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.view.frame import Node, Renderer, register


def rows_node(rows: list[tuple[int, str]]) -> Node:
    """A (depth, text) detail list (the form dissectors.msrp/bfcp render) as a Node subtree."""
    root = Node(rows[0][1])
    stack = [(0, root)]
    for depth, text in rows[1:]:
        while stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, stack[-1][1].add(text)))
    return root


register(
    "msrp",
    Renderer(
        lambda m: "MSRP",
        msrplib.column_info,
        lambda m: rows_node(msrplib.detail_tree(m)),
        msrplib.column_suffix,
    ),
)
register(
    "bfcp",
    Renderer(lambda m: "BFCP", bfcplib.column_info, lambda m: rows_node(bfcplib.detail_tree(m))),
)
