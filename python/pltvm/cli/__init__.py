"""The ``pltvm`` command line: one module per command (``exec``, ``run``, ``attest``,
``fork_host``, ``ipc``, ``fuzz``, ``debug``), the shared pieces in :mod:`pltvm.cli.common`, the
top-level parser and dispatch in :mod:`pltvm.cli.dispatch`."""

from __future__ import annotations

from ..sizes import parse_size
from ..traps import cause_name
from .common import exit_status
from .dispatch import main

__all__ = ["main", "exit_status", "cause_name", "parse_size"]
