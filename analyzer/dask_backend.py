"""Units of work on a Dask distributed cluster (the optional ``cluster`` extra).

The scheduler only hands out the units; each worker runs the same per-capture function as a
local process would and sends back its :class:`~mikeyshark.pipeline.CaptureResult` (calls with
their compact facts, not the capture's bytes). Workers need the package installed and the
capture paths readable under the same names (shared storage).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from mikeyshark.keyfile import KeyFile


class ClusterError(RuntimeError):
    """Dask is missing or the scheduler cannot be reached."""


def run_on_cluster(
    address: str,
    work: Callable[..., Any],
    units: Sequence[Any],
    keys: KeyFile,
    reveal: bool,
    timeout: float = 30.0,
) -> list[Any]:
    """``work(unit, keys, reveal)`` for every unit on the cluster; results in unit order."""
    try:
        # imported by name: the package is optional, and its API is untyped
        distributed: Any = importlib.import_module("distributed")
    except ImportError as e:
        raise ClusterError(
            "--dask needs Dask distributed: pip install 'mikeyshark[cluster]'"
        ) from e
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {e}") from e
    try:
        # pure=False: the same unit given twice is analyzed twice, as locally
        futures = [client.submit(work, u, keys, reveal, pure=False) for u in units]
        return list(client.gather(futures))
    finally:
        client.close()
