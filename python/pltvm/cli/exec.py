"""``pltvm exec``: run an RV64 program on a user, bare-metal or system machine."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Optional, Sequence

from .. import _core
from ..arguments import DEFAULT_ENGINE, ENGINES
from ..errors import PltvmError
from ..traps import cause_name
from .common import (EXIT_BUDGET, EXIT_HALT, EXIT_INTERRUPTED, EXIT_USAGE, count_arg, err, exit_status,
                     print_stats, size_arg)

__all__ = ["COMMANDS", "add_parsers", "split_args", "main"]

COMMANDS = ("exec", "programs")

_EPILOG = f"""\
exit status:
  the guest's exit code & 0xFF      the guest exited
  128 + signal                      the guest faulted: SIGILL (132) illegal instruction,
                                    SIGTRAP (133) breakpoint, SIGBUS (135) misaligned access,
                                    SIGSEGV (139) access or page fault, 134 any other trap
  {EXIT_BUDGET}                               the --max-instructions budget ran out (like timeout(1))
  {EXIT_HALT}                               the hart halted (wfi that nothing can wake)
  {EXIT_INTERRUPTED}                               interrupted (Ctrl-C)
  {EXIT_USAGE}                                 bad usage or an ELF that cannot be loaded
  under --gdb: the guest's exit code when it exits under gdb, 0 when gdb detaches or kills it

--gdb HOST:PORT serves the program to gdb (a remote stub) and waits for gdb before its first
instruction, saying where on stderr; connect with
  gdb-multiarch ELF -ex 'target remote HOST:PORT'
A bare port (--gdb 1234 or --gdb :1234) listens on 127.0.0.1 only; any other interface only when
named (--gdb 0.0.0.0:1234). Port 0 picks a free port. `pltvm debug` is the same with
--gdb 127.0.0.1:1234 by default.

ELF may be the name of a bundled program (see `pltvm programs`) when no such file exists.
Everything after ELF is passed to the guest, even arguments that start with '-'.
"""

# Options that take a value (to find where ELF starts: what follows it is the guest's).
_VALUE_OPTIONS = {"--ram-size", "--misaligned", "--max-instructions", "--signature", "--engine", "--gdb"}


class _UsageError(Exception):
    pass



def _print_jit_stats(before: tuple[int, int, int, int], elapsed: float) -> None:
    """The ``--stats`` line of the compiling tier (docs/jit.md), when the run compiled or reused
    any block: blocks compiled, compile time per block and its share of the run's wall-clock
    time, blocks that reused code."""
    blocks, insns, nanos, reused = (a - b for a, b in zip(_core.jit_stats(), before))
    if blocks == 0 and reused == 0:
        return  # nothing compiled (interp, or a run too short to tier up): the one line stands
    seconds = nanos / 1e9
    per_block = seconds / blocks * 1e3 if blocks else 0.0
    share = 100.0 * seconds / elapsed if elapsed > 0 else 0.0
    sys.stderr.write(f"pltvm: jit: {blocks} blocks ({insns} instructions) compiled in {seconds:.3f} s, "
                     f"{per_block:.2f} ms per block, {share:.1f}% of the run; {reused} reused\n")

def add_parsers(sub: Any) -> None:
    """Register ``pltvm exec`` and ``pltvm programs`` on the top-level sub-parser object."""
    ex = sub.add_parser(
        "exec",
        help="run an RV64 ELF program",
        description="Run a static RV64 Linux ELF (--user, the default), a bare-metal ELF in "
        "M-mode with HTIF tohost/fromhost (--bare), or an S-mode kernel under the Penglai-TVM "
        "monitor that talks SBI (--system; its SBI system reset reason is the exit code).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kind = ex.add_mutually_exclusive_group()
    kind.add_argument("--bare", dest="kind", action="store_const", const="bare",
                      help="bare-metal machine: M-mode, RAM at 0x80000000, CLINT, HTIF")
    kind.add_argument("--user", dest="kind", action="store_const", const="user",
                      help="user machine: static Linux program in U-mode (default)")
    kind.add_argument("--system", dest="kind", action="store_const", const="system",
                      help="system machine: S-mode kernel under the Penglai-TVM monitor, RAM at "
                      "0x80000000 (first 2 MiB the monitor's), SBI console and reset")
    ex.add_argument("--ram-size", type=size_arg, metavar="N",
                    help="bare or system machine RAM size, e.g. 64M or 1G (default 128M bare, "
                    "256M system)")
    ex.add_argument("--misaligned", choices=("emulate", "trap"), default="emulate",
                    help="misaligned loads/stores: emulate them (default) or trap")
    ex.add_argument("--max-instructions", type=count_arg, metavar="N",
                    help=f"stop after N instructions (exit status {EXIT_BUDGET})")
    ex.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                    help="how guest code runs: interp (the interpreter) or jit (hot blocks compiled to "
                         f"host code; same results, faster on long runs); default {DEFAULT_ENGINE}")
    ex.add_argument("--stats", action="store_true",
                    help="print instruction count, time and MIPS to stderr")
    ex.add_argument("--signature", metavar="FILE",
                    help="bare only: write the words between begin_signature and end_signature "
                    "to FILE, one 8-digit hex word per line")
    add_gdb_argument(ex, default=None)
    ex.add_argument("elf", metavar="ELF", help="program to run (a file, or a bundled program name)")
    # A default, or argparse (3.11) lists ARGS as required when ELF is missing.
    ex.add_argument("guest_args", metavar="ARGS", nargs="*", default=[], help="arguments for the program")
    sub.add_parser("programs", help="list the bundled programs",
                   description="List the names of the bundled programs.")


def split_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the arguments after ``exec`` into (pltvm options + ELF, guest arguments)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            if i + 1 < len(args):
                return list(args[: i + 2]), list(args[i + 2 :])
            return list(args), []
        if a.startswith("-") and a != "-":
            if a in _VALUE_OPTIONS:
                i += 2
            else:
                # unique prefixes of value options (argparse allows abbreviations)
                matches = [o for o in _VALUE_OPTIONS if "=" not in a and len(a) > 2 and o.startswith(a)]
                i += 2 if len(matches) == 1 else 1
            continue
        return list(args[: i + 1]), list(args[i + 1 :])
    return list(args), []


def main(ns: argparse.Namespace, guest_args: Sequence[str] = ()) -> int:
    """Run ``pltvm exec`` (or ``pltvm programs``) for the parsed ``ns``; the exit status."""
    if ns.command == "programs":
        from .. import programs

        for name in programs.names():
            print(name)
        return 0
    try:
        return _exec(ns, list(ns.guest_args) + list(guest_args))
    except (_UsageError, PltvmError) as e:
        return err(str(e))
    except KeyboardInterrupt:
        sys.stderr.write("pltvm: interrupted\n")
        return EXIT_INTERRUPTED


def _resolve_program(name: str) -> str:
    if os.path.exists(name):
        return name
    from .. import enclaves, programs

    try:
        return str(programs.path(name))
    except FileNotFoundError:
        hint = f"; {name} is a bundled enclave: pltvm run {name}" if name in enclaves.names() else ""
        raise _UsageError(f"{name}: no such file or bundled program (see `pltvm programs`){hint}") from None


def add_gdb_argument(p: Any, default: Optional[str]) -> None:
    """The ``--gdb HOST:PORT`` option of ``pltvm exec`` (no default) and ``pltvm debug``."""
    shown = f"default {default}; " if default else ""
    p.add_argument("--gdb", metavar="HOST:PORT", default=default,
                   help=f"serve the program to gdb and wait for it before the first instruction ({shown}"
                   "PORT or :PORT listens on 127.0.0.1 only, another interface only when named; port 0 "
                   "picks a free one)")


def _gdb_address(ns: argparse.Namespace) -> Optional[tuple[str, int]]:
    """(host, port) of ``--gdb``, or None; usage errors for options that mean nothing under gdb."""
    if getattr(ns, "gdb", None) is None:
        return None
    from ..machine import parse_gdb_address

    for flag, value in (("--max-instructions", ns.max_instructions), ("--signature", ns.signature)):
        if value is not None:
            raise _UsageError(f"--gdb cannot be combined with {flag} (gdb decides how far the program runs)")
    if ns.stats:
        raise _UsageError("--gdb cannot be combined with --stats")
    try:
        return parse_gdb_address(ns.gdb)
    except ValueError as e:
        raise _UsageError(f"--gdb: {e}") from None


def _serve(m: Any, host: str, port: int) -> int:
    """Serve machine ``m`` to gdb (the line on stderr says where); the exit status."""
    from .common import serve_gdb

    sys.stdout.flush()
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


def _exec(ns: argparse.Namespace, guest_args: list[str]) -> int:
    kind = ns.kind or "user"
    gdb = _gdb_address(ns)
    if kind != "bare" and ns.signature is not None:
        raise _UsageError("--signature needs --bare")
    if kind == "user" and ns.ram_size is not None:
        raise _UsageError("--ram-size needs --bare (the user machine maps memory on demand)")
    path = _resolve_program(ns.elf)

    from ..machine import DEFAULT_RAM_SIZE, DEFAULT_SYSTEM_RAM_SIZE, Machine

    if kind == "system" and ns.misaligned != "emulate":
        raise _UsageError("--misaligned trap needs --bare or --user (the system machine emulates)")
    try:
        if kind == "bare":
            m = Machine.bare(ram_size=ns.ram_size or DEFAULT_RAM_SIZE, misaligned=ns.misaligned, engine=ns.engine)
        elif kind == "system":
            m = Machine.system(ram_size=ns.ram_size or DEFAULT_SYSTEM_RAM_SIZE, engine=ns.engine)
        else:
            m = Machine.user(argv=[ns.elf, *guest_args], misaligned=ns.misaligned, engine=ns.engine)
    except (ValueError, MemoryError) as e:
        raise _UsageError(f"cannot create the machine: {e or type(e).__name__}") from None
    if kind != "user" and guest_args:
        raise _UsageError(f"a {kind} machine takes no program arguments")
    m.load_elf(path)
    if ns.signature is not None and m.signature_range is None:
        raise _UsageError(f"{path}: --signature needs the symbols begin_signature and end_signature")
    if gdb is not None:
        return _serve(m, *gdb)

    sys.stdout.flush()
    sys.stderr.flush()
    jit_before = _core.jit_stats()
    start = time.perf_counter()
    try:
        ex = m.run(ns.max_instructions)
    except KeyboardInterrupt:
        elapsed = time.perf_counter() - start
        sys.stderr.write(f"pltvm: interrupted after {m.instret} instructions\n")
        if ns.stats:
            print_stats(m.instret, elapsed)
        return EXIT_INTERRUPTED
    elapsed = time.perf_counter() - start

    status = exit_status(ex.reason, ex.code, ex.cause)
    if ex.reason == "fault":
        cause = ex.cause if ex.cause is not None else -1
        tval = ex.tval if ex.tval is not None else 0
        sys.stderr.write(
            f"pltvm: fault: {cause_name(cause) if cause >= 0 else 'unknown'} (mcause={cause}) "
            f"at pc={ex.pc:#x}, tval={tval:#x}\n"
        )
        if kind == "user" and m.image is not None and m.image.symbol("tohost") is not None:
            sys.stderr.write("pltvm: hint: this ELF has a tohost symbol; bare-metal programs need --bare\n")
        elif m.image is not None and (why := _enclave_evidence(m.image)) is not None:
            sys.stderr.write(f"pltvm: hint: this looks like a Penglai enclave ({why}); enclaves run in the "
                             f"monitor: pltvm run {ns.elf}\n")
    elif ex.reason == "budget":
        sys.stderr.write(f"pltvm: instruction budget exhausted after {ex.instret} instructions\n")
    elif ex.reason == "halt":
        sys.stderr.write(f"pltvm: hart halted at pc={ex.pc:#x} (wfi with no interrupt that can wake it)\n")
    elif ex.reason != "exit":
        sys.stderr.write(f"pltvm: run stopped: {ex.reason} at pc={ex.pc:#x}\n")
    if ns.stats:
        print_stats(ex.instret, elapsed)
        _print_jit_stats(jit_before, elapsed)

    if ns.signature is not None:
        words = m.signature() or []
        try:
            with open(ns.signature, "w", encoding="ascii") as f:
                f.writelines(f"{w:08x}\n" for w in words)
        except OSError as e:
            return err(f"cannot write signature file {ns.signature}: {e.strerror or e}")
    sys.stderr.flush()
    return status


# Functions of the enclave-side SDK (Penglai's eapp library and ours) that an enclave links in.
_EAPP_SYMBOLS = ("EAPP_RETURN", "eapp_print", "eapp_return_relay_page", "EAPP_ENTRY", "eapp_entry", "__eapp_args")
_EAPP_BASE = 0x1000
"""Where the SDK's linker script puts an enclave (one PT_LOAD, entry at its start). Linux does
not map programs this low (``vm.mmap_min_addr``), so a user program is not linked there."""


def _enclave_evidence(image: Any) -> Optional[str]:
    """Why ``image`` looks like a Penglai enclave rather than a program, or None."""
    for name in _EAPP_SYMBOLS:
        if image.symbol(name) is not None:
            return f"it defines {name}"
    if image.entry == _EAPP_BASE and any(seg.vaddr == _EAPP_BASE for seg in image.segments):
        return f"it is linked at {_EAPP_BASE:#x} like the SDK's enclaves"
    return None
