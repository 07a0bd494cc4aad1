"""``pltvm debug``: run an RV64 ELF under gdb's control (a gdb remote stub, see docs/debugging.md).

The machine is made as ``pltvm exec`` makes it (``--user`` by default, or ``--bare``), the ELF
is loaded, and the stub waits for gdb before the first instruction, saying where on stderr::

    pltvm debug --bare prog.elf --gdb 127.0.0.1:1234
    gdb-multiarch prog.elf -ex 'target remote 127.0.0.1:1234'

The exit status is the guest's exit code when it exited under gdb, 0 when gdb detached or killed
it, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import EXIT_USAGE, serve_gdb

__all__ = ["add_parsers", "main", "COMMANDS"]

COMMANDS = ("debug",)


def add_parsers(sub: Any) -> None:
    """Register ``pltvm debug`` on the top-level sub-parser object."""
    p = sub.add_parser(
        "debug",
        help="run an RV64 ELF under gdb (remote stub)",
        description="Load an ELF into a user (default) or bare machine and serve one gdb remote "
        "session for it: breakpoints, watchpoints, stepping, registers incl. CSRs and privilege.",
    )
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--bare", dest="kind", action="store_const", const="bare",
                      help="bare-metal machine: M-mode, RAM at 0x80000000, CLINT, HTIF")
    kind.add_argument("--user", dest="kind", action="store_const", const="user",
                      help="user machine: static Linux program in U-mode (default)")
    p.add_argument("--gdb", metavar="HOST:PORT", default="127.0.0.1:1234",
                   help="where to listen (default %(default)s; :0 picks a free port; only "
                   "loopback unless another host is given)")
    p.add_argument("--misaligned", choices=("emulate", "trap"), default="emulate",
                   help="misaligned loads/stores: emulate them (default) or trap")
    p.add_argument("elf", metavar="ELF", help="program to debug")
    p.add_argument("guest_args", metavar="ARGS", nargs="*", default=[], help="arguments for the program")


def main(ns: argparse.Namespace) -> int:
    """Run ``pltvm debug`` with parsed arguments; returns the exit status."""
    from ..errors import PltvmError
    from ..machine import Machine, parse_gdb_address

    kind = ns.kind or "user"
    try:
        host, port = parse_gdb_address(ns.gdb)
        if kind == "bare":
            if ns.guest_args:
                raise ValueError("a bare machine takes no program arguments")
            m = Machine.bare(misaligned=ns.misaligned)
        else:
            m = Machine.user(argv=[ns.elf, *ns.guest_args], misaligned=ns.misaligned)
        m.load_elf(ns.elf)
    except (ValueError, TypeError, OSError, PltvmError) as e:
        sys.stderr.write(f"pltvm: error: {e}\n")
        return EXIT_USAGE

    served = serve_gdb(m.gdb_serve, host, port)
    if isinstance(served, int):
        return served
    outcome, code = served
    sys.stdout.flush()
    if outcome == "exited":
        sys.stderr.write(f"pltvm: program exited with code {code} under gdb\n")
        return int(code or 0) & 0xFF
    sys.stderr.write(f"pltvm: gdb {outcome} at pc={m.pc:#x} after {m.instret} instructions\n")
    return 0
