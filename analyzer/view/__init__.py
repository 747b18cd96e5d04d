"""The dissect wing: a Wireshark-like packet list and detail tree.

:mod:`.frame` holds the row and tree types (:class:`~.frame.FrameView`, :class:`~.frame.Node`)
and the registry of renderers; :mod:`.sip`, :mod:`.tls`, :mod:`.media` and :mod:`.megaco`
register the renderers of their protocols when imported (done here, so that importing the package is
enough); :mod:`.stream` runs a capture through flows, SIP, TLS and MSRP/BFCP and yields each
frame's view in order.
"""

from mikeyshark.view import media, megaco, sip, tls  # noqa: F401  (renderers register on import)
from mikeyshark.view.frame import RENDERERS, FrameView, Node, Renderer, register

__all__ = ["RENDERERS", "FrameView", "Node", "Renderer", "register"]
