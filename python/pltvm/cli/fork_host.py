"""``pltvm fork-host``: the SDK's ``demo/fork-host`` (docs/abi.md §4.6), step by step.

Written against :mod:`pltvm.host`, the C-API mirror: the main thread creates a shadow enclave
(a measured template: no stack) from ELF with a 4-page host shm holding 11111; each of THREADS
threads prints ``host:<i>: enclave run eid <id>``, points a fresh ``PLenclave`` at the template
(its fd, driver id and the shm), takes a relay page holding 22222, attests (the template: its
``isShadow`` is still 0), and runs: the first run forks an instance copy-on-write and runs it;
whenever the enclave returns its relay page the thread writes 2 to it and re-runs. Enclave
output goes to stdout, where Penglai's kernel console would show it. At the end main closes the
device before destroying the template, so (as on Penglai) that destroy fails with
``LIB: ioctl stop enclave is failed`` on stderr.
"""

from __future__ import annotations

import argparse
import struct
import threading
from typing import Any

from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_demo_arguments,
    demo_relay_page,
    demo_shm,
    out,
)

__all__ = ["add_parsers", "main", "run_fork_host", "COMMANDS"]

COMMANDS = ("fork-host",)
SHM_SIZE = 0x4000
MM_ARG_SIZE = 0x1000

_EPILOG = """\
what it prints:
  host:<i>: enclave run eid <id>             per thread i = 1..THREADS (stdout), <id> = the
                                             template's driver id in hex, e.g. 1000
  <the enclave's output>                     per instance, e.g. "hello world!" (stdout)
  [ERROR] host: run_result val is wrong!     if a run returned anything but 0 or 1 (stdout)
  host: failed to create enclave             if the shadow enclave cannot be created (stdout)
  LIB: ioctl stop enclave is failed          at the end (stderr): like the C demo, main closes
                                             the device before destroying the template
The driver's explanations go to the pltvm.driver logger (stderr).

exit status: 0 when the demo ran to the end and no thread reported an error; 1 when the
shadow enclave could not be created or a thread reported an error (the C demo exits 0 then,
which hides the failure from scripts); 2 bad usage; 130 interrupted (Ctrl-C): every enclave is
destroyed and every thread has ended when "pltvm: interrupted" (stderr) is printed, the last
line of output; a second Ctrl-C during that clean-up ends pltvm at once.

ELF may be the name of a bundled enclave (see `pltvm enclaves`) when no such file exists.
"""


def add_parsers(sub: Any) -> None:
    """Add the ``fork-host`` sub-command to the ``pltvm`` parser's subparsers."""
    p = sub.add_parser(
        "fork-host",
        help="fork enclave instances from a shadow enclave like the Penglai SDK's fork-host demo",
        description="Create a shadow enclave (a measured template) from ELF and fork THREADS "
        "instances from it (default 1), each run in its own thread, the way the SDK's "
        "demo/fork-host program does. Forks are copy-on-write: O(1) in the image size.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_demo_arguments(p, "number of threads, each forking and running one instance (default 1)")


def main(ns: argparse.Namespace) -> int:
    """Run ``pltvm fork-host``; the exit status."""
    from .run import run_demo

    return run_demo(ns, run_fork_host)


def _create_enclave(i: int, fd: int, eid: int, shmid: int, shm_offset: int, shm_size: int,
                    stop: threading.Event) -> bool:
    """``create_enclave`` of fork-host.c: one thread's instance. False if the thread reported an
    error (``[ERROR] host: run_result val is wrong!``)."""
    from .. import host as H
    from ..host import driver

    if stop.is_set():  # Ctrl-C before this thread got going
        return True
    out(f"host:{i}: enclave run eid {eid:x}\n")
    enclave = H.PLenclave()
    H.PLenclave_init(enclave)
    driver.close_dev(enclave.fd)  # the C demo leaks this fd; nothing observable depends on it
    enclave.fd = fd
    enclave.user_param.eid = eid
    H.PLenclave_set_shm(enclave, shmid, shm_offset, shm_size)
    enclave.eid = eid
    mm_arg_id, mm_arg = demo_relay_page(MM_ARG_SIZE)
    enclave.user_param.name = b"test-enclave%d" % i
    ok = True
    if not stop.is_set():
        H.PLenclave_attest(enclave, 0)
    if not stop.is_set():
        if mm_arg_id > 0 and isinstance(mm_arg, memoryview):
            H.PLenclave_set_mem_arg(enclave, mm_arg_id, 0, MM_ARG_SIZE)
        while True:
            result = H.PLenclave_run(enclave)
            if result == 0 or stop.is_set():
                break
            if result == H.RETURN_USER_RELAY_PAGE and isinstance(mm_arg, memoryview):
                struct.pack_into("<i", mm_arg, 0, 2)
                H.PLenclave_set_rerun_arg(enclave, H.RETURN_USER_RELAY_PAGE)
            else:
                out("[ERROR] host: run_result val is wrong!\n")
                ok = False
                break
    H.PLenclave_schrodinger_dt(mm_arg_id, mm_arg)
    H.PLenclave_schrodinger_ctl(mm_arg_id)
    return ok


def run_fork_host(path: str, threads: int = 1, sigint: Any = None) -> int:
    """``main`` of fork-host.c. Returns the exit status: 0, 1 if the shadow enclave could not be
    created or a thread reported an error, 2 for an unusable ELF, 130 after Ctrl-C (see
    :mod:`pltvm.cli.threads`; ``sigint`` as for :func:`pltvm.cli.run.run_host_demo`)."""
    from .. import host as H
    from ..host import driver
    from .threads import run_threads

    enclave_file = H.elf_args()
    H.elf_args_init(enclave_file, path)
    try:
        if not H.elf_valid(enclave_file):
            out("error when initializing enclaveFile\n")
            return EXIT_USAGE
        enclave = H.PLenclave()
        params = H.enclave_args()
        H.PLenclave_init(enclave)
        H.enclave_args_init(params)
        shmid, _ = demo_shm(SHM_SIZE)
        params.shmid, params.shm_offset, params.shm_size = shmid, 0, SHM_SIZE
        params.type = H.SHADOW_ENCLAVE
        if H.PLenclave_create(enclave, enclave_file, params) < 0:
            out("host: failed to create enclave\n")
            return EXIT_FAILED
        eid = enclave.user_param.eid
        stop = threading.Event()
        jobs = [(_create_enclave, (i + 1, enclave.fd, eid, shmid, 0, SHM_SIZE, stop)) for i in range(threads)]
        device = driver.device_of(enclave.fd) or H.default_device()
        results = run_threads("pltvm-fork-host", jobs, stop, lambda: device, sigint)
        if results is None:
            return EXIT_INTERRUPTED
        # As fork-host.c: the device is closed first, so the destroy fails (B20).
        H.PLenclave_destruct(enclave)
        H.PLenclave_destroy(enclave)
    finally:
        H.elf_args_destroy(enclave_file)
    return 0 if all(results) else EXIT_FAILED
