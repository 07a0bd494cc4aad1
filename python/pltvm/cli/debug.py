"""``pltvm debug``: ``pltvm exec --gdb`` with ``--gdb 127.0.0.1:1234`` by default (see
docs/debugging.md).

The machine is made as ``pltvm exec`` makes it (``--user`` by default, or ``--bare``), the ELF
is loaded, and the stub waits for gdb before the first instruction, saying where on stderr::

    pltvm debug --bare prog.elf --gdb 127.0.0.1:1234      # = pltvm exec --bare --gdb 127.0.0.1:1234 prog.elf
    gdb-multiarch prog.elf -ex 'target remote 127.0.0.1:1234'

The exit status is the guest's exit code when it exited under gdb, 0 when gdb detached or killed
it, 130 after Ctrl-C. Everything is done by :mod:`pltvm.cli.exec`; this module only parses.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..arguments import DEFAULT_ENGINE
from . import exec as exec_cmd

__all__ = ["add_parsers", "main", "COMMANDS", "DEFAULT_ADDRESS"]

COMMANDS = ("debug",)
DEFAULT_ADDRESS = "127.0.0.1:1234"


def add_parsers(sub: Any) -> None:
    """Register ``pltvm debug`` on the top-level sub-parser object."""
    p = sub.add_parser(
        "debug",
        help="run an RV64 ELF under gdb (remote stub; = pltvm exec --gdb)",
        description="Load an ELF into a user (default) or bare machine and serve one gdb remote "
        "session for it: breakpoints, watchpoints, stepping, reverse stepping, registers incl. "
        "CSRs and privilege. The same as `pltvm exec --gdb HOST:PORT` with a default address.",
    )
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--bare", dest="kind", action="store_const", const="bare",
                      help="bare-metal machine: M-mode, RAM at 0x80000000, CLINT, HTIF")
    kind.add_argument("--user", dest="kind", action="store_const", const="user",
                      help="user machine: static Linux program in U-mode (default)")
    exec_cmd.add_gdb_argument(p, default=DEFAULT_ADDRESS)
    p.add_argument("--misaligned", choices=("emulate", "trap"), default="emulate",
                   help="misaligned loads/stores: emulate them (default) or trap")
    p.add_argument("elf", metavar="ELF", help="program to debug")
    p.add_argument("guest_args", metavar="ARGS", nargs="*", default=[], help="arguments for the program")


def main(ns: argparse.Namespace) -> int:
    """Run ``pltvm debug`` with parsed arguments (as ``pltvm exec --gdb``); the exit status."""
    as_exec = argparse.Namespace(
        command="exec", kind=ns.kind or "user", gdb=ns.gdb, misaligned=ns.misaligned, elf=ns.elf,
        guest_args=list(ns.guest_args), ram_size=None, max_instructions=None, engine=DEFAULT_ENGINE,
        stats=False, signature=None,
    )
    return exec_cmd.main(as_exec)
