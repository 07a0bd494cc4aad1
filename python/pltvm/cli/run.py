"""``pltvm run`` and ``pltvm enclaves``: the SDK's ``host`` demo and the bundled enclaves.

``pltvm run ELF [THREADS]`` is Penglai-TVM's ``demo/host/host.c`` (docs/abi.md §4.6)
written against :mod:`pltvm.host`, the C-API mirror, line for line: per thread a host shm page
holding 11111, a relay page holding 22222, the name ``test-enclave<i>``, create, attest, run
until the enclave exits (writing 0 to the relay page whenever the enclave returns it). Enclave
output goes to stdout, where Penglai's kernel console would show it.
"""

from __future__ import annotations

import argparse
import struct
import threading
from typing import Any, Callable, Union

from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_demo_arguments,
    demo_relay_page,
    demo_shm,
    err,
    out,
    resolve_enclave,
    serve_gdb,
)

__all__ = ["add_parsers", "main", "run_host_demo", "debug_enclave", "COMMANDS"]

COMMANDS = ("run", "enclaves")
SHM_SIZE = 0x1000
MM_ARG_SIZE = 0x1000

_RUN_EPILOG = """\
what it prints (stdout), per thread i = 1..THREADS:
  <the enclave's output>                     e.g. "hello world!"
  host: PLenclave run is finish              after the enclave exited
  host:<i>: failed to create enclave         if the create failed (then the line above)
  [ERROR] host: result <r> val is wrong!     if a run returned anything but 0 or 1,
                                             e.g. -1 for an enclave that faulted
and once all threads are done:
  host: after exit the thread
The C library's messages go to stderr (e.g. "LIB: PLenclave_run: ioctl run enclave is failed"),
the driver's explanations to the pltvm.driver logger (also stderr).

exit status:
  0    the demo ran to the end and no thread reported an error
  1    the demo ran to the end but a thread reported an error (an [ERROR] or "failed to
       create enclave" line); the C demo exits 0 then, which hides the failure from scripts
  2    bad usage: no such file or bundled enclave, an ELF that is not an RV64 RISC-V
       executable, THREADS not a positive integer
  130  interrupted (Ctrl-C), e.g. `pltvm run loop`, which spins forever: every enclave is
       destroyed and every thread has ended when "pltvm: interrupted" (stderr) is printed,
       the last line of output; a second Ctrl-C during that clean-up ends pltvm at once

ELF may be the name of a bundled enclave (see `pltvm enclaves`) when no such file exists.
"""


def add_parsers(sub: Any) -> None:
    """Add the ``run`` and ``enclaves`` sub-commands to the ``pltvm`` parser's subparsers."""
    run = sub.add_parser(
        "run",
        help="run an enclave like the Penglai SDK's host demo",
        description="Run a Penglai-TVM enclave the way the SDK's demo/host program does: "
        "THREADS threads (default 1) each create and run one enclave from ELF.",
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_demo_arguments(run, "number of threads, each running its own enclave (default 1)")
    run.add_argument("--gdb", metavar="HOST:PORT", default=None,
                     help="debug the enclave with gdb instead of running the demo: one enclave is "
                     "created and waits for gdb before its first instruction (:0 picks a free port; "
                     "only loopback unless another host is given); exit status = the enclave's "
                     "exit value (docs/debugging.md)")
    sub.add_parser("enclaves", help="list the bundled enclaves",
                   description="List the names of the bundled demo enclaves (usable as `pltvm run NAME`).")


def main(ns: argparse.Namespace) -> int:
    """Run the sub-command of ``ns`` (``ns.command`` in :data:`COMMANDS`); the exit status."""
    if ns.command == "enclaves":
        from .. import enclaves

        for name in enclaves.names():
            print(name)
        return 0
    if ns.gdb is not None:
        # Ctrl-C raises here (no deferred handler): the stub looks at it while gdb drives.
        checked = _checked_elf(ns, lambda: False)
        return checked if isinstance(checked, int) else debug_enclave(checked, ns.threads, ns.gdb)
    return run_demo(ns, run_host_demo)


def debug_enclave(path: str, threads: int, address: str) -> int:
    """``pltvm run --gdb HOST:PORT ELF``: one enclave from ``path`` served to gdb; the exit
    status is the enclave's exit value (its low 8 bits), 1 if it faulted, 0 if gdb detached or
    killed it, 2 for bad usage, 130 after Ctrl-C."""
    import sys

    from ..device import Device
    from ..errors import PltvmError
    from ..machine import parse_gdb_address

    if threads != 1:
        return err("--gdb debugs one enclave: THREADS must be 1")
    try:
        host, port = parse_gdb_address(address)
        device = Device()
        enclave = device.create(path)
    except (ValueError, TypeError, OSError, PltvmError) as e:
        return err(str(e))

    try:
        served = serve_gdb(enclave.debug, host, port)
    finally:
        sys.stdout.flush()
        device.close()
    if isinstance(served, int):
        return served
    outcome, code = served
    if outcome == "exited":
        sys.stderr.write(f"pltvm: enclave exited with value {code} under gdb\n")
        return int(code or 0) & 0xFF
    if outcome == "fault":
        sys.stderr.write("pltvm: enclave faulted under gdb (destroyed)\n")
        return EXIT_FAILED
    sys.stderr.write(f"pltvm: gdb {outcome}\n")
    return 0


def run_demo(ns: argparse.Namespace, demo: Callable[[str, int, Any], int]) -> int:
    """``pltvm run`` and ``pltvm fork-host`` once parsed: the checks they share, then
    ``demo(path, threads, sigint)``. From here on Ctrl-C only sets a flag
    (:class:`pltvm.cli.threads.DeferredSigint`), looked at between the steps: it never lands in
    an import or a check as a KeyboardInterrupt. A Ctrl-C that comes after the demo has ended
    still ends the command as interrupted."""
    from .threads import EXIT_INTERRUPTED as INTERRUPTED_STATUS
    from .threads import DeferredSigint, report_interrupted

    with DeferredSigint() as sigint:
        checked = _checked_elf(ns, sigint)
        status = checked if isinstance(checked, int) else demo(checked, ns.threads, sigint)
    if sigint() and status != INTERRUPTED_STATUS:
        status = report_interrupted()
    return status


def _checked_elf(ns: argparse.Namespace, sigint: Any) -> Union[str, int]:
    """The path of ``ns.elf`` once it passed the checks, or the exit status of the one it
    failed (or of Ctrl-C)."""
    from .threads import report_interrupted

    path = resolve_enclave(ns.elf)
    if path is None:
        return err(f"{ns.elf}: no such file or bundled enclave (see `pltvm enclaves`)")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return err(f"{ns.elf}: cannot read: {e.strerror or e}")
    from .. import host
    from ..host import elf as host_elf

    if sigint():
        return report_interrupted()
    if not data:
        return err(f"{ns.elf}: the file is empty")
    problem = host_elf.elf_problem(data)
    if sigint():
        return report_interrupted()
    if problem is not None:
        return err(f"{ns.elf}: not a valid Penglai enclave: {problem}")
    if ns.secure_memory is not None:
        host.configure(secure_memory=ns.secure_memory)
    else:  # checked here once, not in each worker thread as it opens the device
        from ..sizes import secure_memory_from_env

        try:
            secure_memory_from_env()
        except ValueError as e:
            return err(str(e))
    return path


def _create_enclave(i: int, enclave_file: Any, stop: threading.Event) -> bool:
    """``create_enclave`` of host.c: one thread's enclave, from init to cleanup. False if the
    thread reported an error (``failed to create enclave`` or ``[ERROR] ...``)."""
    from .. import host as H

    if stop.is_set():  # Ctrl-C before this thread got going
        return True
    enclave = H.PLenclave()
    params = H.enclave_args()
    H.PLenclave_init(enclave)
    H.enclave_args_init(params)

    shmid, shm = demo_shm(SHM_SIZE)
    params.shmid, params.shm_offset, params.shm_size = shmid, 0, SHM_SIZE
    mm_arg_id, mm_arg = demo_relay_page(MM_ARG_SIZE)
    params.name = b"test-enclave%d" % i

    ok = finished = True
    if stop.is_set():
        finished = False
    elif H.PLenclave_create(enclave, enclave_file, params) < 0:
        out(f"host:{i}: failed to create enclave\n")
        ok = False
    elif stop.is_set():  # Ctrl-C while we were creating it
        H.PLenclave_destroy(enclave)
        finished = False
    else:
        H.PLenclave_attest(enclave, 0)
        if mm_arg_id > 0 and isinstance(mm_arg, memoryview):
            H.PLenclave_set_mem_arg(enclave, mm_arg_id, 0, MM_ARG_SIZE)
        while True:
            result = H.PLenclave_run(enclave)
            if result == 0 or stop.is_set():
                break
            if result == H.RETURN_USER_RELAY_PAGE and isinstance(mm_arg, memoryview):
                struct.pack_into("<i", mm_arg, 0, 0)
                H.PLenclave_set_rerun_arg(enclave, H.RETURN_USER_RELAY_PAGE)
            else:
                out(f"[ERROR] host: result {result} val is wrong!\n")
                ok = finished = False
                break
    H.PLenclave_destruct(enclave)
    if finished and not stop.is_set():
        out("host: PLenclave run is finish \n")
    H.PLenclave_shmdt(shmid, shm)
    H.PLenclave_shmctl(shmid)
    H.PLenclave_schrodinger_dt(mm_arg_id, mm_arg)
    H.PLenclave_schrodinger_ctl(mm_arg_id)
    return ok


def run_host_demo(path: str, threads: int = 1, sigint: Any = None) -> int:
    """``main`` of host.c: load ``path`` and run ``threads`` threads of :func:`_create_enclave`
    (names ``test-enclave1`` ...). Returns the exit status: 0, 1 if a thread reported an error,
    2 for an unusable ELF, 130 after Ctrl-C (see :mod:`pltvm.cli.threads`; ``sigint`` is the
    command's :class:`~pltvm.cli.threads.DeferredSigint`, None: one for the demo's threads)."""
    from .. import host as H
    from .threads import run_threads

    enclave_file = H.elf_args()
    H.elf_args_init(enclave_file, path)
    try:
        if not H.elf_valid(enclave_file):
            out("error when initializing enclaveFile\n")
            return EXIT_USAGE
        stop = threading.Event()
        jobs = [(_create_enclave, (i + 1, enclave_file, stop)) for i in range(threads)]
        results = run_threads("pltvm-host", jobs, stop, H.default_device, sigint)
    finally:
        H.elf_args_destroy(enclave_file)
    if results is None:
        return EXIT_INTERRUPTED
    out("host: after exit the thread\n")
    return 0 if all(results) else EXIT_FAILED
