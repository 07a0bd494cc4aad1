"""What the ``pltvm`` commands share: exit statuses, argument types, message helpers and how a
name on the command line becomes a file (a path, or a bundled program or enclave)."""

from __future__ import annotations

import argparse
import os
import struct
import sys
from typing import Any, Callable, Optional, Union

from ..sizes import parse_size

__all__ = [
    "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_BUDGET", "EXIT_HALT", "EXIT_FAULT_OTHER",
    "exit_status", "size_arg", "count_arg", "threads_arg", "err", "out", "resolve_enclave",
    "print_stats", "add_demo_arguments", "serve_gdb", "MAGIC_SHM_VALUE", "MAGIC_RELAY_PAGE_VALUE",
    "demo_shm", "demo_relay_page",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUDGET = 124
EXIT_HALT = 125
EXIT_INTERRUPTED = 130
EXIT_FAULT_OTHER = 134

MAGIC_SHM_VALUE = 11111
"""What the SDK's host demos write into the shm for the enclave to check."""
MAGIC_RELAY_PAGE_VALUE = 22222
"""What they write into the relay page."""

_SIGNALS = {0: 7, 4: 7, 6: 7, 2: 4, 3: 5, 1: 11, 5: 11, 7: 11, 12: 11, 13: 11, 15: 11}
"""Exception cause -> signal number (SIGBUS 7, SIGILL 4, SIGTRAP 5, SIGSEGV 11)."""


def demo_shm(size: int) -> tuple[int, Any]:
    """``PLenclave_shmget`` + ``PLenclave_shmat`` as the SDK's host demos do them: returns the
    segment id and its mapping, whose first int is MAGIC_SHM_VALUE when it could be attached
    (the mapping is then a memoryview; a failed call's value is passed on as the C demo would)."""
    from .. import host as H

    shmid = H.PLenclave_shmget(size)
    shm = H.PLenclave_shmat(shmid, 0)
    if isinstance(shm, memoryview):
        struct.pack_into("<i", shm, 0, MAGIC_SHM_VALUE)
    return shmid, shm


def demo_relay_page(size: int) -> tuple[int, Any]:
    """``PLenclave_schrodinger_get`` + ``PLenclave_schrodinger_at`` as the SDK's host demos do
    them: returns the relay page's id and mapping, whose first int is MAGIC_RELAY_PAGE_VALUE when
    it could be mapped (a memoryview then)."""
    from .. import host as H

    mm_id = H.PLenclave_schrodinger_get(size)
    mm = H.PLenclave_schrodinger_at(mm_id, 0)
    if isinstance(mm, memoryview):
        struct.pack_into("<i", mm, 0, MAGIC_RELAY_PAGE_VALUE)
    return mm_id, mm


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


def size_arg(text: str) -> int:
    """argparse type: a size such as ``4096``, ``0x1000``, ``64K`` or ``1G``."""
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def count_arg(text: str) -> int:
    """argparse type: an instruction count (decimal or 0x hex, ``_`` allowed), >= 0."""
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid instruction count {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"instruction count must be >= 0, not {text!r}")
    return value


def threads_arg(text: str) -> int:
    """argparse type: a positive decimal thread count."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def err(message: str) -> int:
    """Print ``pltvm: error: message`` to stderr; the usage exit status."""
    sys.stderr.write(f"pltvm: error: {message}\n")
    sys.stderr.flush()
    return EXIT_USAGE


def out(text: str) -> None:
    """Write ``text`` to stdout at once (the demos' lines interleave with the enclaves' output)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def resolve_enclave(name: str) -> Optional[str]:
    """``name`` if it is a file, else the bundled enclave of that name, else None."""
    if os.path.exists(name):
        return name
    from .. import enclaves

    try:
        return str(enclaves.path(name))
    except FileNotFoundError:
        return None


def print_stats(instret: int, elapsed: float) -> None:
    """The ``--stats`` line: instructions, seconds and MIPS, on stderr."""
    mips = instret / elapsed / 1e6 if elapsed > 0 else 0.0
    sys.stderr.write(f"pltvm: {instret} instructions in {elapsed:.3f} s, {mips:.1f} MIPS\n")


def add_demo_arguments(p: Any, threads_help: str) -> None:
    """The arguments of the SDK host demos (``run``, ``fork-host``): ``--secure-memory``, ELF
    and an optional THREADS count."""
    p.add_argument("--secure-memory", type=size_arg, metavar="N",
                   help="secure memory of the emulated device, e.g. 64M (default 1G or $PLTVM_SECURE_MEMORY)")
    p.add_argument("elf", metavar="ELF", help="enclave ELF file, or a bundled enclave name (e.g. hello-world)")
    p.add_argument("threads", metavar="THREADS", nargs="?", type=threads_arg, default=1, help=threads_help)


def serve_gdb(serve: Callable[..., Any], host: str, port: int) -> Union[tuple[str, int], int]:
    """``serve(address, ready=...)`` (a machine's or an enclave's gdb stub), saying on stderr
    where gdb should connect once the socket listens: its ``(outcome, code)``, or the exit
    status after Ctrl-C (130) or a socket error (2, with the message)."""

    def ready(bound: int) -> None:
        sys.stderr.write(f"pltvm: waiting for gdb on {host}:{bound} (target remote {host}:{bound})\n")
        sys.stderr.flush()

    try:
        outcome, code = serve(f"{host}:{port}", ready=ready)
        return str(outcome), int(code or 0)
    except KeyboardInterrupt:
        sys.stderr.write("pltvm: interrupted\n")
        return EXIT_INTERRUPTED
    except OSError as e:
        return err(str(e))
