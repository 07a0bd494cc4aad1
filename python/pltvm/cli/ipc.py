"""``pltvm test-caller``: the Penglai SDK's IPC host (``demo/IPC/test-caller``) through the C
host-API mirror (:mod:`pltvm.host`): server enclaves and an enclave that calls them."""

from __future__ import annotations

import argparse
import struct
from typing import Any, List, Optional

from .common import demo_relay_page, demo_shm, err, out, resolve_enclave

__all__ = ["COMMANDS", "add_parsers", "main", "run_test_caller"]

COMMANDS = ("test-caller",)

SHM_SIZE = 0x4000
MM_ARG_SIZE = 0x4000
ATTEST_NONCE = 1234

_EPILOG = """\
What it does, step by step (as the SDK's test-caller host):
  1. create SERVER as a server enclave named "test-server" and, if given, SERVER1 as
     "test-server1" (the host never runs them; enclaves call them);
  2. create CALLER as "test-caller" with a 4-page shm holding 11111, attest it (nonce 1234),
     give it a 4-page relay page holding 22222 and run it until it exits (a returned relay page
     is handed back, as demo/host does);
  3. destroy the servers, detach and remove the shm and the relay page.

What the enclaves print goes to stdout. With the bundled defaults (caller, server, server1):
  caller -> test-server1 -> test-server, and the caller prints
  caller: get server1 retval:0x0000000000000003

exit status: 0 when the caller exited, 1 when an enclave could not be created or the run
failed (the C host exits 0 then), 2 bad usage.

ELF names may be bundled enclaves (see `pltvm enclaves`) when no such file exists.
"""


def add_parsers(sub: Any) -> None:
    """Add the ``test-caller`` sub-command to the ``pltvm`` parser's subparsers."""
    p = sub.add_parser(
        "test-caller",
        help="run an enclave that calls server enclaves, like the Penglai SDK's IPC demo",
        description="Create server enclaves from SERVER (and SERVER1) and run CALLER, which calls "
        "them with call_enclave, the way the SDK's demo/IPC/test-caller host does.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("caller", metavar="CALLER", nargs="?", default="caller",
                   help="the calling enclave (default: the bundled caller)")
    p.add_argument("server", metavar="SERVER", nargs="?", default="server",
                   help='the server named "test-server" (default: the bundled server)')
    p.add_argument("server1", metavar="SERVER1", nargs="?", default=None,
                   help='a server named "test-server1" (e.g. the bundled server1); none by default')




def main(ns: argparse.Namespace) -> int:
    """Run ``pltvm test-caller``; the exit status."""

    paths: List[Optional[str]] = []
    for arg in (ns.caller, ns.server, ns.server1):
        if arg is None:
            paths.append(None)
            continue
        path = resolve_enclave(arg)
        if path is None:
            return err(f"{arg}: no such file or bundled enclave (see `pltvm enclaves`)")
        paths.append(path)
    caller, server, server1 = paths
    assert caller is not None and server is not None
    return run_test_caller(caller, server, server1)


def _create_server(path: str, name: bytes, what: str) -> Any:
    from .. import host as H

    f = H.elf_args()
    H.elf_args_init(f, path)
    if not H.elf_valid(f):
        out(f"host:error when initializing {what}_enclaveFile\n")
        return None
    e = H.PLenclave()
    H.PLenclave_init(e)
    params = H.enclave_args()
    H.enclave_args_init(params)
    params.name = name
    params.type = H.SERVER_ENCLAVE
    if H.PLenclave_create(e, f, params) < 0:
        out(f"host:failed to create {what}_enclave\n")
        H.PLenclave_destruct(e)
        return None
    return e


def run_test_caller(caller: str, server: str, server1: Optional[str] = None) -> int:
    """``main`` of the SDK's test-caller host (with the shm, attestation and relay page of its
    demo/host). Returns the exit status: 0 when the caller exited, else 1."""
    from .. import host as H

    servers = [_create_server(server, b"test-server", "server")]
    if server1 is not None:
        servers.append(_create_server(server1, b"test-server1", "server1"))
    status = 1
    f = H.elf_args()
    H.elf_args_init(f, caller)
    if not H.elf_valid(f):
        out("host:error when initializing caller_enclaveFile\n")
    else:
        e = H.PLenclave()
        H.PLenclave_init(e)
        params = H.enclave_args()
        H.enclave_args_init(params)
        params.name = b"test-caller"
        shmid, shm = demo_shm(SHM_SIZE)
        if isinstance(shm, memoryview):
            params.shmid, params.shm_offset, params.shm_size = shmid, 0, SHM_SIZE
        mm_id, mm = demo_relay_page(MM_ARG_SIZE)
        if H.PLenclave_create(e, f, params) < 0:
            out("host: failed to create caller_enclave\n")
        else:
            H.PLenclave_attest(e, ATTEST_NONCE)
            if isinstance(mm, memoryview):
                H.PLenclave_set_mem_arg(e, mm_id, 0, MM_ARG_SIZE)
            while True:
                r = H.PLenclave_run(e)
                if r == H.RETURN_USER_RELAY_PAGE and isinstance(mm, memoryview):
                    struct.pack_into("<i", mm, 0, 0)
                    H.PLenclave_set_rerun_arg(e, H.RETURN_USER_RELAY_PAGE)
                    continue
                break
            status = 0 if r == 0 else 1
        H.PLenclave_destruct(e)
        H.PLenclave_shmdt(shmid, shm)
        H.PLenclave_shmctl(shmid)
        H.PLenclave_schrodinger_dt(mm_id, mm)
        H.PLenclave_schrodinger_ctl(mm_id)
    H.elf_args_destroy(f)
    for s in servers:
        if s is not None:
            H.PLenclave_destroy(s)
            H.PLenclave_destruct(s)
    if any(s is None for s in servers):
        status = 1
    return status
