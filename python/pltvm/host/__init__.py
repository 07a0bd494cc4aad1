"""``pltvm.host``: Penglai-TVM's C host library (``libpenglai-enclave-host``) mirrored in Python.

A host program written against ``penglai-enclave.h`` translates line by line::

    from pltvm.host import *

    elf = elf_args()
    elf_args_init(elf, "hello-world.elf")
    if not elf_valid(elf):
        print("error when initializing enclaveFile")
    enclave = PLenclave()
    params = enclave_args()
    PLenclave_init(enclave)
    enclave_args_init(params)
    if PLenclave_create(enclave, elf, params) < 0:
        ...
    while (r := PLenclave_run(enclave)):
        ...
    PLenclave_destruct(enclave)
    elf_args_destroy(elf)

Return codes and the messages printed to stderr/stdout are the C library's (docs/abi.md
§4.5), typos included. Structures are dataclasses with the C field names. Pointers become Python
objects: ``elf_args.ptr`` holds the file's bytes, ``PLenclave_shmat`` and
``PLenclave_schrodinger_at`` return a writable :class:`memoryview` the program uses like the C
pointer (``struct.pack_into("<i", p, 0, 11111)``), or ``-1`` (``MAP_FAILED``) on failure.

The device. ``/dev/penglai_enclave_dev`` is emulated in-process: one monitor model
(``pltvm._core.Monitor``) with a configurable secure-memory pool, plus the driver's shm and
schrodinger (relay-page) registries. :func:`PLenclave_init` opens it; ``PLenclave.fd`` is a real
file descriptor of this process (on ``os.devnull``) that names the device, so closing it
(:func:`PLenclave_destruct`) makes later calls on it fail exactly as in C. Configure the device
with :func:`configure` before the first :func:`PLenclave_init` (or set ``PLTVM_SECURE_MEMORY``).

Host-shared memory. shm and schrodinger regions are host memory (``bytearray``) the program
reads and writes through the memoryview. The enclave sees the same bytes: they are copied into
the enclave's mapping every time it is entered (run, re-run) and copied back every time the run
returns to the program. While a run is in flight the two copies are not synchronised (a host
thread writing the buffer during a run is not seen by the enclave until the next entry).

Integer arguments and fields. Sizes, offsets, ids, reasons and nonces must be ints (anything else
raises TypeError naming the argument, where C would not compile). An int the driver cannot use
takes the C failure path: -1 and the C message (e.g. ``PLenclave_shmget(1 << 40)``: host shm is
at most :data:`SHM_MAX_SIZE`, relay regions come from a 16 MiB pool), or, for an shm or relay
triple the driver does not accept, an enclave that gets no shm or relay pages. No size is
allocated before it has been checked.

Threads. Any number of threads may use the API at once. The driver's bookkeeping for an enclave
(which host shm and relay region it is bound to) belongs to that enclave, not to its driver id:
ids are reused at once, and a thread finishing with an enclave never touches the bookkeeping of
the next enclave given the same id.

Enclave output (``printf`` through the kbuffer) goes to ``sys.stdout`` by default (on Penglai
it goes to the kernel console); :func:`set_output` redirects it. Driver diagnostics that the
kernel would log (why a create failed, ...) go to the ``logging`` logger ``"pltvm.driver"``.
"""


from __future__ import annotations

from .structs import (PAGE_SIZE, PERSISTENCY_FILE, SCHRODINGER_POOL_PAGES, SHM_ID_END, SHM_ID_MIN, SHM_MAX_SIZE, NORMAL_ENCLAVE, SERVER_ENCLAVE, SHADOW_ENCLAVE, RETURN_USER_EXIT_ENCL, RETURN_USER_RELAY_PAGE, DEFAULT_STACK_SIZE, NAME_LEN, HASH_SIZE, SIGNATURE_SIZE, PUBLIC_KEY_SIZE, PRIVATE_KEY_SIZE, PENGLAI_ENCLAVE_DEV_PATH, MAP_FAILED, ENCLAVE_SUCCESS, ENCLAVE_TIMER_IRQ, ENCLAVE_OCALL, ENCLAVE_YIELD, ENCLAVE_ERROR, ENCLAVE_NO_MEM, elf_args, enclave_args, penglai_enclave_user_param, sm_report_t, enclave_report_t, report_t, penglai_enclave_attest_param, PLenclave)
from .driver import (Device, configure, default_device, set_output)
from .elf import (elf_args_init, elf_args_destroy, elf_valid, enclave_args_init)
from .lifecycle import (PLenclave_init, PLenclave_create, PLenclave_run, PLenclave_attest, PLenclave_stop, PLenclave_resume, PLenclave_destroy, PLenclave_destruct)
from .memory import (PLenclave_shmget, PLenclave_shmat, PLenclave_shmdt, PLenclave_shmctl, PLenclave_schrodinger_get, PLenclave_schrodinger_at, PLenclave_schrodinger_dt, PLenclave_schrodinger_ctl, PLenclave_set_shm, PLenclave_set_mem_arg, PLenclave_set_rerun_arg, PLenclave_fs_persistency_init)

__all__ = [
    "NORMAL_ENCLAVE",
    "SERVER_ENCLAVE",
    "SHADOW_ENCLAVE",
    "RETURN_USER_EXIT_ENCL",
    "RETURN_USER_RELAY_PAGE",
    "DEFAULT_STACK_SIZE",
    "NAME_LEN",
    "HASH_SIZE",
    "SIGNATURE_SIZE",
    "PUBLIC_KEY_SIZE",
    "PRIVATE_KEY_SIZE",
    "PENGLAI_ENCLAVE_DEV_PATH",
    "MAP_FAILED",
    "PAGE_SIZE",
    "SHM_ID_MIN",
    "SHM_ID_END",
    "SHM_MAX_SIZE",
    "SCHRODINGER_POOL_PAGES",
    "PERSISTENCY_FILE",
    "ENCLAVE_SUCCESS",
    "ENCLAVE_TIMER_IRQ",
    "ENCLAVE_OCALL",
    "ENCLAVE_YIELD",
    "ENCLAVE_ERROR",
    "ENCLAVE_NO_MEM",
    "elf_args",
    "enclave_args",
    "penglai_enclave_user_param",
    "sm_report_t",
    "enclave_report_t",
    "report_t",
    "penglai_enclave_attest_param",
    "PLenclave",
    "elf_args_init",
    "elf_args_destroy",
    "elf_valid",
    "enclave_args_init",
    "PLenclave_init",
    "PLenclave_create",
    "PLenclave_run",
    "PLenclave_attest",
    "PLenclave_stop",
    "PLenclave_resume",
    "PLenclave_destroy",
    "PLenclave_destruct",
    "PLenclave_shmget",
    "PLenclave_shmat",
    "PLenclave_shmdt",
    "PLenclave_shmctl",
    "PLenclave_schrodinger_get",
    "PLenclave_schrodinger_at",
    "PLenclave_schrodinger_dt",
    "PLenclave_schrodinger_ctl",
    "PLenclave_set_shm",
    "PLenclave_set_mem_arg",
    "PLenclave_set_rerun_arg",
    "PLenclave_fs_persistency_init",
    "Device",
    "configure",
    "default_device",
    "set_output",
]
