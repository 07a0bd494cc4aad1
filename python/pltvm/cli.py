"""The ``pltvm`` command line.

``pltvm exec [options] ELF [ARGS...]`` runs a program; ``pltvm programs`` lists the bundled
programs. :func:`main` returns the process exit status instead of exiting, so that it can be
called from Python.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any, NoReturn, Optional, Sequence

from .errors import PltvmError
from .sizes import parse_size

__all__ = ["main", "parse_size", "exit_status", "cause_name"]

EXIT_USAGE = 2
EXIT_BUDGET = 124
EXIT_HALT = 125
EXIT_FAULT_OTHER = 134
EXIT_INTERRUPTED = 130

_CAUSES = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "environment call from U-mode",
    9: "environment call from S-mode",
    11: "environment call from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
}
_INTERRUPTS = {
    1: "supervisor software interrupt",
    3: "machine software interrupt",
    5: "supervisor timer interrupt",
    7: "machine timer interrupt",
    9: "supervisor external interrupt",
    11: "machine external interrupt",
}
_SIGNALS = {0: 7, 4: 7, 6: 7, 2: 4, 3: 5, 1: 11, 5: 11, 7: 11, 12: 11, 13: 11, 15: 11}
"""Exception cause -> signal number (SIGBUS 7, SIGILL 4, SIGTRAP 5, SIGSEGV 11)."""

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

ELF may be the name of a bundled program (see `pltvm programs`) when no such file exists.
Everything after ELF is passed to the guest, even arguments that start with '-'.
"""


def _size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count_arg(text: str) -> int:
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid instruction count {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"instruction count must be >= 0, not {text!r}")
    return value


def cause_name(cause: int) -> str:
    """Human name of an ``mcause`` value."""
    if cause >> 63:
        code = cause & ((1 << 63) - 1)
        return _INTERRUPTS.get(code, f"interrupt {code}")
    return _CAUSES.get(cause, f"exception {cause}")


def exit_status(reason: str, code: Optional[int] = None, cause: Optional[int] = None) -> int:
    """Process exit status for a run that stopped with ``reason`` (see ``pltvm exec --help``)."""
    if reason == "exit":
        return (code or 0) & 0xFF
    if reason == "fault":
        if cause is None or cause >> 63:
            return EXIT_FAULT_OTHER
        sig = _SIGNALS.get(cause)
        return 128 + sig if sig else EXIT_FAULT_OTHER
    if reason == "budget":
        return EXIT_BUDGET
    if reason == "halt":
        return EXIT_HALT
    return EXIT_FAULT_OTHER


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors read ``pltvm: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pltvm: error: {message}\n")


def _version() -> str:
    try:
        from . import _core

        return _core.__version__
    except ImportError:  # pragma: no cover - native module missing
        return "unknown"


def _build_parser() -> tuple[_Parser, _Parser, Any]:
    parser = _Parser(
        prog="pltvm",
        description="Penglai-TVM RISC-V enclaves on any machine.",
    )
    parser.add_argument("--version", action="version", version=f"pltvm {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
    ex.add_argument("--ram-size", type=_size_arg, metavar="N",
                    help="bare or system machine RAM size, e.g. 64M or 1G (default 128M bare, "
                    "256M system)")
    ex.add_argument("--misaligned", choices=("emulate", "trap"), default="emulate",
                    help="misaligned loads/stores: emulate them (default) or trap")
    ex.add_argument("--max-instructions", type=_count_arg, metavar="N",
                    help=f"stop after N instructions (exit status {EXIT_BUDGET})")
    ex.add_argument("--stats", action="store_true",
                    help="print instruction count, time and MIPS to stderr")
    ex.add_argument("--signature", metavar="FILE",
                    help="bare only: write the words between begin_signature and end_signature "
                    "to FILE, one 8-digit hex word per line")
    ex.add_argument("elf", metavar="ELF", help="program to run (a file, or a bundled program name)")
    # A default, or argparse (3.11) lists ARGS as required when ELF is missing.
    ex.add_argument("guest_args", metavar="ARGS", nargs="*", default=[], help="arguments for the program")
    sub.add_parser("programs", help="list the bundled programs",
                   description="List the names of the bundled programs.")
    from . import cli_enclave

    cli_enclave.add_parsers(sub)
    from . import cli_attest

    cli_attest.add_parsers(sub)
    from . import cli_fork

    cli_fork.add_parsers(sub)
    from . import cli_ipc

    cli_ipc.add_parsers(sub)
    from . import cli_fuzz

    cli_fuzz.add_parsers(sub)
    from . import cli_debug

    cli_debug.add_parsers(sub)
    return parser, ex, sub


# Options of `exec` that take a value (used to find where ELF starts).
_EXEC_VALUE_OPTIONS = {"--ram-size", "--misaligned", "--max-instructions", "--signature"}


def _split_exec_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the arguments after ``exec`` into (pltvm options + ELF, guest arguments)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            if i + 1 < len(args):
                return list(args[: i + 2]), list(args[i + 2 :])
            return list(args), []
        if a.startswith("-") and a != "-":
            if a in _EXEC_VALUE_OPTIONS:
                i += 2
            else:
                # unique prefixes of value options (argparse allows abbreviations)
                matches = [o for o in _EXEC_VALUE_OPTIONS if "=" not in a and len(a) > 2 and o.startswith(a)]
                i += 2 if len(matches) == 1 else 1
            continue
        return list(args[: i + 1]), list(args[i + 1 :])
    return list(args), []


def _err(message: str) -> int:
    sys.stderr.write(f"pltvm: error: {message}\n")
    sys.stderr.flush()
    return EXIT_USAGE


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``pltvm`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    status."""
    try:
        status = _main(argv)
        if argv is None:
            # The pltvm command is ending (console script, python -m pltvm): a Ctrl-C from here
            # on would only turn a finished command into a traceback, or a kill by SIGINT while
            # Python shuts down.
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:  # not the main thread: no signals here anyway
                pass
        return status
    except KeyboardInterrupt:
        # Ctrl-C before a command has taken it over (argument parsing, the commands' lazy
        # imports, ELF checks): the same ending as an interrupted run.
        sys.stderr.write("pltvm: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`pltvm ... | head`): stop quietly with SIGPIPE's status, and
        # keep Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13


def _main(argv: Optional[Sequence[str]]) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser, exec_parser, sub = _build_parser()
    if args and args[0] == "fuzz":
        # libFuzzer's -flag=value conventions: parsed by cli_fuzz, not argparse.
        from . import cli_fuzz

        return cli_fuzz.main(args[1:])
    guest: list[str] = []
    if args and args[0] == "exec":
        head, guest = _split_exec_args(args[1:])
        args = ["exec", *head]
    try:
        ns, extra = parser.parse_known_args(args)
        if extra:
            # The sub-command's usage, not the top level's (`pltvm run ELF 4 extra`).
            sub.choices.get(ns.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    if ns.command == "programs":
        from . import programs

        for name in programs.names():
            print(name)
        return 0
    if ns.command in ("run", "enclaves"):
        from . import cli_enclave

        return cli_enclave.main(ns)
    if ns.command == "debug":
        from . import cli_debug

        return cli_debug.main(ns)
    if ns.command in ("measure", "attest", "verify"):
        from . import cli_attest

        return cli_attest.main(ns)
    if ns.command == "test-caller":
        from . import cli_ipc

        return cli_ipc.main(ns)
    if ns.command == "fork-host":
        from . import cli_fork

        try:
            return cli_fork.main(ns)
        except KeyboardInterrupt:  # pragma: no cover - between join attempts
            sys.stderr.write("pltvm: interrupted\n")
            return EXIT_INTERRUPTED
    if ns.command == "exec":
        try:
            return _exec(ns, list(ns.guest_args) + guest)
        except _UsageError as e:
            return _err(str(e))
        except PltvmError as e:
            return _err(str(e))
        except KeyboardInterrupt:
            sys.stderr.write("pltvm: interrupted\n")
            return EXIT_INTERRUPTED
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _resolve_elf(name: str) -> str:
    if os.path.exists(name):
        return name
    from . import programs

    try:
        return str(programs.path(name))
    except FileNotFoundError:
        from . import enclaves

        hint = f"; {name} is a bundled enclave: pltvm run {name}" if name in enclaves.names() else ""
        raise _UsageError(f"{name}: no such file or bundled program (see `pltvm programs`){hint}") from None


def _exec(ns: argparse.Namespace, guest_args: list[str]) -> int:
    kind = ns.kind or "user"
    if kind != "bare" and ns.signature is not None:
        raise _UsageError("--signature needs --bare")
    if kind == "user" and ns.ram_size is not None:
        raise _UsageError("--ram-size needs --bare (the user machine maps memory on demand)")
    path = _resolve_elf(ns.elf)

    from .machine import DEFAULT_RAM_SIZE, DEFAULT_SYSTEM_RAM_SIZE, Machine

    if kind == "system" and ns.misaligned != "emulate":
        raise _UsageError("--misaligned trap needs --bare or --user (the system machine emulates)")
    try:
        if kind == "bare":
            m = Machine.bare(ram_size=ns.ram_size or DEFAULT_RAM_SIZE, misaligned=ns.misaligned)
        elif kind == "system":
            m = Machine.system(ram_size=ns.ram_size or DEFAULT_SYSTEM_RAM_SIZE)
        else:
            m = Machine.user(argv=[ns.elf, *guest_args], misaligned=ns.misaligned)
    except (ValueError, MemoryError) as e:
        raise _UsageError(f"cannot create the machine: {e or type(e).__name__}") from None
    if kind != "user" and guest_args:
        raise _UsageError(f"a {kind} machine takes no program arguments")
    m.load_elf(path)
    if ns.signature is not None and m.signature_range is None:
        raise _UsageError(f"{path}: --signature needs the symbols begin_signature and end_signature")

    sys.stdout.flush()
    sys.stderr.flush()
    start = time.perf_counter()
    try:
        ex = m.run(ns.max_instructions)
    except KeyboardInterrupt:
        elapsed = time.perf_counter() - start
        sys.stderr.write(f"pltvm: interrupted after {m.instret} instructions\n")
        if ns.stats:
            _print_stats(m.instret, elapsed)
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
        _print_stats(ex.instret, elapsed)

    if ns.signature is not None:
        words = m.signature() or []
        try:
            with open(ns.signature, "w", encoding="ascii") as f:
                f.writelines(f"{w:08x}\n" for w in words)
        except OSError as e:
            return _err(f"cannot write signature file {ns.signature}: {e.strerror or e}")
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


def _print_stats(instret: int, elapsed: float) -> None:
    mips = instret / elapsed / 1e6 if elapsed > 0 else 0.0
    sys.stderr.write(f"pltvm: {instret} instructions in {elapsed:.3f} s, {mips:.1f} MIPS\n")

