"""Finding Ray and a Ray cluster for :mod:`pltvm.ray`.

Ray is an optional dependency (``pip install "pltvm[ray]"``). It is imported through
:func:`importlib.import_module`, so the rest of :mod:`pltvm.ray` type-checks with or without Ray
installed (Ray's own annotations are not followed; its objects are ``Any`` here).
"""

from __future__ import annotations

import importlib
import logging
import socket
from typing import Any, Optional

from ..errors import PltvmError

__all__ = ["RayNotInstalled", "RayClusterError", "import_ray", "connect", "parse_address"]

INSTALL_HINT = 'pltvm.ray needs Ray: pip install "pltvm[ray]"'
#: Seconds to wait for a TCP connection to a given cluster address before giving up.
PROBE_TIMEOUT = 5.0


class RayNotInstalled(PltvmError, ImportError):
    """Ray is not importable (install the ``ray`` extra)."""


class RayClusterError(PltvmError, ConnectionError):
    """A Ray address that is malformed or where no Ray cluster answers, or Ray failed to
    start; the message names the address."""


def import_ray() -> Any:
    """The ``ray`` module; :class:`RayNotInstalled` if Ray is not installed."""
    try:
        return importlib.import_module("ray")
    except ImportError as e:
        raise RayNotInstalled(f"{INSTALL_HINT} ({e})") from None


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT`` (``[v6addr]:PORT`` for IPv6);
    :class:`RayClusterError` naming the address otherwise."""
    if not isinstance(address, str):
        raise TypeError(f"ray address must be a str, not {type(address).__name__}")
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port_s = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    bad = (not sep or not host or not port_s.isdigit() or any(c in host for c in "/ ?#@")
           or not 0 < int(port_s) < 65536)
    if bad:
        raise RayClusterError(
            f"ray address {address!r}: expected auto, HOST:PORT (a cluster's GCS, e.g. 10.0.0.5:6379) "
            f"or ray://HOST:PORT (Ray client)")
    return host, int(port_s)


def _probe(address: str, host: str, port: int, timeout: float) -> None:
    """Fail fast (instead of Ray's long reconnect loop) when nothing listens at the address."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        raise RayClusterError(f"cannot reach a Ray cluster at {address!r}: {why}") from None


def connect(address: Optional[str] = "auto", *, num_cpus: Optional[int] = None,
            probe_timeout: float = PROBE_TIMEOUT) -> Any:
    """Ray, initialised: the session already open in this process if there is one; else, for
    ``"auto"`` (or None), Ray's own discovery (``RAY_ADDRESS``, or a cluster started with
    ``ray start`` on this machine) falling back to a new local instance (``num_cpus``, no
    dashboard); for ``HOST:PORT`` / ``ray://HOST:PORT``, that cluster (checked to answer on the
    port first). Raises :class:`RayNotInstalled` or :class:`RayClusterError`."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    kw: dict[str, Any] = {"logging_level": logging.WARNING}
    if address is None or address == "auto":
        kw["include_dashboard"] = False
        if num_cpus is not None:
            kw["num_cpus"] = num_cpus
        where = "a local Ray instance"
        target = None
    else:
        host, port = parse_address(address)
        _probe(address, host, port, probe_timeout)
        where = f"the Ray cluster at {address!r}"
        target = address
    try:
        ray.init(address=target, **kw)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        raise RayClusterError(f"cannot start or join {where}: {e}") from None
    return ray
