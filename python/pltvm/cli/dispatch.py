"""The ``pltvm`` command: the top-level parser and the dispatch to one module per command.

:func:`main` returns the process exit status instead of exiting, so that it can be called
from Python.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from types import ModuleType
from typing import NoReturn, Optional, Sequence

from .common import EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["main"]

# Command modules, in the order `pltvm --help` lists them; each has COMMANDS, add_parsers(sub)
# and main(ns). `fuzz` parses its own libFuzzer-style flags and is dispatched before argparse.
_MODULES = ("exec", "run", "attest", "fork_host", "ipc", "fuzz", "debug")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors read ``pltvm: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pltvm: error: {message}\n")


def _version() -> str:
    try:
        from .. import _core

        return _core.__version__
    except ImportError:  # pragma: no cover - native module missing
        return "unknown"


def _command(name: str) -> ModuleType:
    return importlib.import_module(f".{name}", __package__)


def _build_parser() -> tuple[_Parser, argparse._SubParsersAction[_Parser], dict[str, str]]:
    parser = _Parser(prog="pltvm", description="Penglai-TVM RISC-V enclaves on any machine.")
    parser.add_argument("--version", action="version", version=f"pltvm {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    owner: dict[str, str] = {}
    for module in _MODULES:
        mod = _command(module)
        mod.add_parsers(sub)
        owner.update(dict.fromkeys(getattr(mod, "COMMANDS", (module,)), module))
    return parser, sub, owner


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
    if args and args[0] == "fuzz":
        return int(_command("fuzz").main(args[1:]))
    parser, sub, owner = _build_parser()
    guest: list[str] = []
    if args and args[0] == "exec":
        head, guest = _command("exec").split_args(args[1:])
        args = ["exec", *head]
    try:
        ns, extra = parser.parse_known_args(args)
        if extra:
            # The sub-command's usage, not the top level's (`pltvm run ELF 4 extra`).
            sub.choices.get(ns.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    module = owner.get(ns.command or "")
    if module is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if module == "exec":
        return int(_command(module).main(ns, guest))
    try:
        return int(_command(module).main(ns))
    except KeyboardInterrupt:  # pragma: no cover - a command's own handling was bypassed
        sys.stderr.write("pltvm: interrupted\n")
        return EXIT_INTERRUPTED
