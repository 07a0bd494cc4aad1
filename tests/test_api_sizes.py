"""Every size (and count, address, nonce) argument of the public Python API with hostile values:
0, negative, 2**40, 2**62, 2**64 - 1, 2**64 and non-ints. Each call either works or raises a
typed error that names the argument: TypeError for a non-int, ValueError for a value no call
can take (negative, 2**64 and up, past a limit of the ABI), SecureMemoryExhausted for more than
the device's whole secure memory. Nothing aborts, hangs or allocates the size first.

The calls run in child processes (a group per child), so a regression that aborts the process
or hangs fails its test instead of the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest
from conftest import needs_native

pytestmark = needs_native

TESTS = Path(__file__).resolve().parent
VALUES = ["0", "-1", "1 << 40", "1 << 62", "(1 << 64) - 1", "1 << 64", "1.5", "'4096'"]
OK = "ok"

PRELUDE = """
import json, resource, sys
sys.path.insert(0, {tests!r})
import pltvm
from conftest import bare_exit_program, make_elf

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def machine():
    import tempfile, os
    segs, entry, syms = bare_exit_program(0)
    fd, path = tempfile.mkstemp(suffix=".elf")
    os.write(fd, make_elf(segs, entry, syms))
    os.close(fd)
    m = pltvm.Machine.bare(ram_size=1 << 20)
    m.load_elf(path)
    os.unlink(path)
    return m

seen = {{}}
base = peak_mib()
for text in {values!r}:
    V = eval(text)
    try:
        {call}
        seen[text] = ["ok", ""]
    except Exception as e:
        seen[text] = [type(e).__name__, str(e)]
print(json.dumps({{"seen": seen, "grew": peak_mib() - base}}))
"""


def outcomes(call: str, timeout: float = 120) -> Dict[str, Any]:
    """Run ``call`` (a statement using ``V``) for each of VALUES in a child; what each did."""
    src = PRELUDE.format(tests=str(TESTS), values=VALUES, call=call)
    r = subprocess.run([sys.executable, "-c", src], capture_output=True, timeout=timeout, text=True)
    assert r.returncode == 0, f"{call}: the child died ({r.returncode}): {r.stderr[-2000:]}"
    out: Dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["grew"] < 256, f"{call}: the child's peak memory grew by {out['grew']:.0f} MiB"
    return out["seen"]


def check(call: str, expected: Dict[str, str], *args: str) -> None:
    """``expected``: value text -> exception class name (or OK); the messages of ValueError,
    TypeError and SecureMemoryExhausted must name one of ``args`` (the argument, or the guest
    memory range that is not backed)."""
    seen = outcomes(call)
    got = {v: seen[v][0] for v in VALUES}
    assert got == {v: expected[v] for v in VALUES}, (call, {v: seen[v] for v in VALUES if got[v] != expected[v]})
    for v in VALUES:
        kind, message = seen[v]
        if kind in ("ValueError", "TypeError", "SecureMemoryExhausted"):
            assert any(a in message for a in args), (call, v, message)


def table(zero: str, neg: str, e40: str, e62: str, e64m1: str, e64: str, flt: str = "TypeError",
          text: str = "TypeError") -> Dict[str, str]:
    return dict(zip(VALUES, [zero, neg, e40, e62, e64m1, e64, flt, text]))


U64 = table(OK, "ValueError", OK, OK, OK, "ValueError")  # any 64-bit unsigned value
ANY_INT = table(OK, OK, OK, OK, OK, OK)  # masked to 64 bits (seeds, nonces, pc)
NO_HUGE = table(OK, "ValueError", "ValueError", "ValueError", "ValueError", "ValueError")
MEM_RANGE = table(OK, "ValueError", "EnclaveError", "EnclaveError", "EnclaveError", "ValueError")
# shm sizes on the default 1 GiB device: more than the pool, or never valid (2**64 - 1 rounds
# up to 2**64 bytes of pages).
SHM = table(OK, "ValueError", "SecureMemoryExhausted", "SecureMemoryExhausted", "ValueError", "ValueError")
# relay sizes: bounded by the driver's 16 MiB relay pool.
RELAY = table(OK, "ValueError", "ValueError", "ValueError", "ValueError", "ValueError")


# --- pltvm.Device and Enclave ---------------------------------------------------------------------


def test_device_secure_memory() -> None:
    check("pltvm.Device(secure_memory=V)", {**U64, "'4096'": OK}, "secure_memory")


def test_device_seed() -> None:
    check("pltvm.Device(seed=V)", ANY_INT, "seed")


def test_create_stack_size() -> None:
    check("pltvm.Device().create('hello-world', stack_size=V)", NO_HUGE, "stack_size")


def test_create_shm() -> None:
    check("pltvm.Device().create('hello-world', shm=V)", SHM, "shm")


def test_create_shm_on_a_large_pool_is_limited_by_the_address_space() -> None:
    check("pltvm.Device(secure_memory=(1 << 64) - 1).create('hello-world', shm=V)",
          table(OK, "ValueError", "ValueError", "ValueError", "ValueError", "ValueError"), "shm")


def test_create_shm_of_the_whole_pool_names_shm_not_the_elf() -> None:
    seen = outcomes("pltvm.Device().create('hello-world', shm=1 << 30) if V == 0 else None")
    kind, message = seen["0"]
    assert kind == "ValueError" and message.startswith("shm of 0x40000000 bytes needs"), seen["0"]


def test_run_max_instructions() -> None:
    check("pltvm.Device().create('hello-world').run(max_instructions=V, output='capture')", U64, "max_instructions")


def test_run_relay() -> None:
    check("pltvm.Device().create('hello-world').run(relay=V, output='capture')", RELAY, "relay")


def test_enclave_read_and_write() -> None:
    check("pltvm.Device().create('hello-world').read(0x1000, V)", MEM_RANGE, "n")
    check("pltvm.Device().create('hello-world').read(V, 8)", {**MEM_RANGE, "0": "EnclaveError"}, "va")
    check("pltvm.Device().create('hello-world').write(V, b'x')", {**MEM_RANGE, "0": "EnclaveError"}, "va")


def test_enclave_attest_nonce() -> None:
    check("pltvm.Device().create('hello-world').attest(V)", ANY_INT, "nonce")


# --- ShadowEnclave ------------------------------------------------------------------------------


def test_fork_shm_and_relay() -> None:
    check("pltvm.Device().create_shadow('hello-world').fork(shm=V)", SHM, "shm")
    check("pltvm.Device().create_shadow('hello-world').fork(relay=V).run(output='capture')", RELAY, "relay")


def test_fork_run_destroy_sizes() -> None:
    # Large counts are work, not errors: 2**40 instances would run for days. Only the counts
    # that cannot be valid are tried here, with 0 and 1.
    check("pltvm.Device().create_shadow('hello-world').fork_run_destroy(V if V in (0, -1, 1 << 64, 1.5, '4096') else 1)",
          table(OK, "ValueError", OK, OK, OK, "ValueError"), "n")
    check("pltvm.Device().create_shadow('hello-world').fork_run_destroy(1, shm=V)", SHM, "shm")
    check("pltvm.Device().create_shadow('hello-world').fork_run_destroy(1, relay=V)", RELAY, "relay")


def test_shadow_attest_nonce() -> None:
    check("pltvm.Device().create_shadow('hello-world').attest(V)", ANY_INT, "nonce")


# --- Machine ------------------------------------------------------------------------------------


def test_machine_ram_size() -> None:
    # RAM is allocated on demand: 1 TiB costs nothing until written; beyond the physical
    # address space is refused.
    seen = outcomes("pltvm.Machine.bare(ram_size=V)")
    assert {v: seen[v][0] for v in VALUES} == table("ValueError", "ValueError", OK, "ValueError", "ValueError",
                                                     "ValueError"), seen
    assert all("ram_size" in seen[v][1] for v in VALUES if seen[v][0] != OK), seen


def test_machine_memory_and_run() -> None:
    check("machine().mem_read(0x8000_0000, V)", table(OK, "ValueError", "ValueError", "ValueError", "ValueError",
                                                      "ValueError"), "n", "guest memory")
    check("machine().mem_read(V, 8)", table("ValueError", "ValueError", "ValueError", "ValueError", "ValueError",
                                            "ValueError"), "addr", "guest memory")
    check("machine().mem_write(V, b'x')", table("ValueError", "ValueError", "ValueError", "ValueError", "ValueError",
                                                "ValueError"), "addr", "guest memory")
    check("machine().run(V)", U64, "max_instructions")


def test_machine_pc() -> None:
    check("setattr(machine(), 'pc', V)", ANY_INT, "pc")
