"""mikeyshark: check captures of MIKEY-TICKET keyed TLS-PSK conference media (MSRP, BFCP).

The Python API, for scripts that analyze captures::

    import mikeyshark

    report = mikeyshark.analyze("call.pcap", keys="keys.toml")
    for call in report.calls:
        print(call.call_id, call.verdict, [c.rule for c in call.failing])

``analyze`` (:func:`mikeyshark.judge.analyze`) returns the judged calls as a
:class:`~mikeyshark.report.model.Report`; ``dissect`` (:func:`mikeyshark.view.stream.dissect`)
iterates the frames of a capture as ``mikeyshark dissect`` shows them, each with its layers'
named fields (``frame.sip.call_id``, ``frame.msrp.transaction_id``); ``KeyFile.load(path)``
reads a key file (:class:`mikeyshark.keyfile.KeyFile`). The names are imported on first use,
so ``import mikeyshark`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mikeyshark.version import __version__

# public name -> the module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "analyze": "mikeyshark.judge",
    "KeyFile": "mikeyshark.keyfile",
    "KeyFileError": "mikeyshark.keyfile",
    "Report": "mikeyshark.report.model",
    "CallRecord": "mikeyshark.evidence",
    "CheckResult": "mikeyshark.evidence",
    "Status": "mikeyshark.evidence",
    "Verdict": "mikeyshark.evidence",
    "dissect": "mikeyshark.view.stream",
    "FrameView": "mikeyshark.view.frame",
}

__all__ = [
    "CallRecord",
    "CheckResult",
    "FrameView",
    "KeyFile",
    "KeyFileError",
    "Report",
    "Status",
    "Verdict",
    "__version__",
    "analyze",
    "dissect",
]

if TYPE_CHECKING:
    from mikeyshark.evidence import CallRecord, CheckResult, Status, Verdict
    from mikeyshark.judge import analyze
    from mikeyshark.keyfile import KeyFile, KeyFileError
    from mikeyshark.report.model import Report
    from mikeyshark.view.frame import FrameView
    from mikeyshark.view.stream import dissect


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mikeyshark' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
