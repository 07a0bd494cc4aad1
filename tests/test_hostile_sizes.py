"""Absurd sizes and addresses through the native binding: each is a typed error (or the ABI's
error value inside the enclave), never a hang or an abort of the process, and nothing large is
allocated before the size is checked.

Every risky call runs in a child process with a timeout, so a regression fails the test instead
of hanging or killing the test run. Children print what they observed; the parent asserts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import needs_native

pytestmark = needs_native

TESTS = Path(__file__).resolve().parent

# Prelude of every child: the assembler helpers, a monitor, peak-RSS probe, and `report`.
PRELUDE = """
import json, resource, struct, sys, threading, time
sys.path.insert(0, {tests!r})
from conftest import A0, A1, A2, A6, A7, ECALL, S0, ZERO, Seg, addi, code, jal, li, lui, make_elf, sd
from pltvm import _core

TEXT, SHM, MMAP = 0x1000, 0x39_0000_0000, 0x30_0000_0000
MINUS_ONE = (1 << 64) - 1

def slli(rd, rs1, sh):
    return (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13

def flat(x):
    return [w for y in x for w in flat(y)] if isinstance(x, (list, tuple)) else [x]

def enclave_elf(*insns):
    return make_elf([Seg(TEXT, code(flat(insns)), flags=7)], TEXT)

def ext(fid):
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid)]

def a2_pow2(k):
    # a2 = 1 << k
    return [addi(A2, ZERO, 1), slli(A2, A2, k)]

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def report(**kw):
    print(json.dumps(kw))
"""


def child(body: str, timeout: float = 120) -> dict:
    """Run ``body`` after the prelude in a fresh interpreter; return what it reported."""
    src = PRELUDE.format(tests=str(TESTS)) + textwrap.dedent(body)
    try:
        r = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child did not finish in {timeout} s (a hang)")
    assert r.returncode == 0, f"child exited with {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_ocall_mmap_of_absurd_sizes_returns_0_and_the_budget_ends_the_run() -> None:
    # The guest: OCALL_MMAP(0, 2^64 - 4096) and (0, 2^63), results stored in the shm,
    # then the same call in an endless loop. Before the fix the first call never returned.
    out = child("""
        prog = enclave_elf(
            addi(S0, A0, 0),
            ext(98), addi(A0, ZERO, 1), addi(A1, ZERO, 0), li(A2, -4096), ECALL, sd(A0, 0, S0),
            addi(A0, ZERO, 1), addi(A1, ZERO, 0), a2_pow2(63), ECALL, sd(A0, 8, S0),
            addi(A0, ZERO, 1), a2_pow2(63), ECALL, jal(ZERO, -16),
        )
        mon = _core.Monitor.new()
        e = mon.create(prog, shm=bytes(4096))
        used = mon.secure_memory_used
        r = e.run(budget=1000)
        used_same = mon.secure_memory_used == used
        results = list(struct.unpack_from("<2Q", r.shm))
        # Without a budget: destroy from another thread ends the run.
        t = threading.Thread(target=lambda: (time.sleep(0.2), e.stop(), e.resume(), e.destroy()))
        t.start()
        r2 = e.run("continue")
        t.join()
        report(reason=r.reason, instret=r.instret, results=results, used_same=used_same,
               after_destroy=r2.reason, used_end=mon.secure_memory_used)
    """)
    assert out == {"reason": "budget", "instret": 1000, "results": [0, 0], "used_same": True,
                   "after_destroy": "destroyed", "used_end": 0}


def test_enclave_read_checks_the_range_before_allocating() -> None:
    out = child("""
        mon = _core.Monitor.new()
        e = mon.create(enclave_elf(ext(99), ECALL), shm=bytes(8192))
        seen = {}
        base = peak_mib()
        for va, n in [(TEXT, 1 << 40), (SHM, 1 << 40), (SHM, (1 << 63) - 1), ((1 << 64) - 4096, 8192),
                      ((1 << 64) - 1, 2), (SHM | (1 << 40), 16), (SHM + 8192 - 8, 16)]:
            try:
                e.read(va, n)
                seen[hex(va)] = "ok"
            except ValueError as x:
                seen[hex(va)] = "ValueError"
        for va, data in [((1 << 64) - 8, bytes(16)), (SHM | (1 << 40), b"x")]:
            try:
                e.write(va, data)
                seen["w" + hex(va)] = "ok"
            except ValueError:
                seen["w" + hex(va)] = "ValueError"
        report(seen=seen, grew=peak_mib() - base, shm=e.read(SHM + 8190, 2).hex())
    """)
    assert set(out["seen"].values()) == {"ValueError"}, out
    assert out["grew"] < 64, out
    assert out["shm"] == "0000"


def test_shm_sizes_are_checked_against_the_pool_and_the_block_before_allocating() -> None:
    out = child("""
        prog = enclave_elf(ext(99), ECALL)
        errs = {}
        small = _core.Monitor.new(secure_memory=1 << 20)
        try:
            small.create(prog, shm=bytes(2 << 20))
        except MemoryError as x:
            errs["pool"] = str(x)
        mon = _core.Monitor.new()
        data = bytes(1 << 30)
        base = peak_mib()
        try:
            mon.create(prog, shm=data)
        except _core.LimitError as x:
            errs["tables"] = [str(x), isinstance(x, ValueError)]
        grew = peak_mib() - base
        for what, size in [("shm", 1 << 40), ("shm", (1 << 64) - 1), ("relay", (16 << 20) + 4096), ("relay", 1 << 63)]:
            try:
                mon.check_region(what, size)
                errs[what + hex(size)] = "ok"
            except MemoryError as x:
                errs[what + hex(size)] = "MemoryError: " + str(x)
            except _core.LimitError as x:
                errs[what + hex(size)] = "LimitError: " + str(x)
        mon.check_region("shm", 1 << 30)
        mon.check_region("relay", 16 << 20)
        report(errs=errs, grew=grew, used=mon.secure_memory_used + small.secure_memory_used, ids=mon.ids())
    """)
    errs = out["errs"]
    assert errs["pool"].startswith("shm of 0x200000 bytes exceeds the secure memory pool (0x100000 bytes)")
    assert errs["tables"][0].startswith("shm of 0x40000000 bytes needs 513 page-table pages"), errs
    assert errs["tables"][1] is True
    assert out["grew"] < 64, out
    assert errs["shm0x10000000000"] == "MemoryError: shm of 0x10000000000 bytes exceeds the secure memory pool (0x40000000 bytes)"
    assert errs["shm0xffffffffffffffff"].startswith("MemoryError: shm of 0xffffffffffffffff bytes exceeds")
    assert errs["relay0x1001000"].startswith("LimitError: relay region of 0x1001000 bytes exceeds the relay pool")
    assert errs["relay0x8000000000000000"].startswith("LimitError: relay region of 0x8000000000000000 bytes")
    assert (out["used"], out["ids"]) == (0, [])


def test_fork_and_run_sizes_are_checked() -> None:
    out = child("""
        import pltvm
        from pathlib import Path
        hello = (Path(pltvm.__file__).parent / "enclaves" / "hello-world.elf").read_bytes()
        mon = _core.Monitor.new(secure_memory=4 << 20)
        tpl = mon.create_shadow(hello)
        errs = {}
        try:
            tpl.fork(shm=bytes(8 << 20))
        except MemoryError as x:
            errs["fork shm"] = str(x)
        try:
            tpl.fork_run_destroy(1, relay=bytes((16 << 20) + 4096))
        except _core.LimitError as x:
            errs["batch relay"] = str(x)
        e = mon.create(enclave_elf(ext(99), ECALL))
        r = e.run(relay=bytes((16 << 20) + 4096))
        errs["run relay"] = [r.reason, r.message]
        report(errs=errs, state=e.state)
    """)
    errs = out["errs"]
    assert errs["fork shm"].startswith("shm of 0x800000 bytes exceeds the secure memory pool (0x400000 bytes)")
    assert errs["batch relay"].startswith("relay region of 0x1001000 bytes exceeds the relay pool")
    assert errs["run relay"][0] == "refused"
    assert errs["run relay"][1].startswith("relay region of 0x1001000 bytes exceeds the relay pool")
    assert out["state"] == "FRESH"


def test_machine_memory_reads_check_the_range_before_allocating() -> None:
    out = child("""
        m = _core.Machine.bare(1 << 20, "emulate")
        seen = {}
        base = peak_mib()
        for addr, n in [(0x8000_0000, 1 << 40), (0, 1 << 40), (0x8000_0000 + (1 << 20) - 8, 16),
                        ((1 << 64) - 8, 16), (0x8000_0000, (1 << 63))]:
            try:
                m.mem_read(addr, n)
                seen[hex(addr) + "+" + hex(n)] = "ok"
            except ValueError:
                seen[hex(addr) + "+" + hex(n)] = "ValueError"
            except OverflowError:
                seen[hex(addr) + "+" + hex(n)] = "OverflowError"
        report(seen=seen, grew=peak_mib() - base, tail=m.mem_read(0x8000_0000 + (1 << 20) - 8, 8).hex())
    """)
    assert set(out["seen"].values()) == {"ValueError"}, out
    assert out["grew"] < 64, out
    assert out["tail"] == "00" * 8


@pytest.mark.parametrize("kind, memsz", [("user", 4 << 30), ("user", 224 << 30), ("bare", 512 << 30)])
def test_load_elf_with_a_huge_memsz_costs_only_what_is_written(tmp_path: Path, kind: str, memsz: int) -> None:
    path = tmp_path / "big.elf"
    out = child(f"""
        import pltvm
        from conftest import RAM_BASE, USER_BASE
        base = USER_BASE if {kind!r} == "user" else RAM_BASE
        Path = __import__("pathlib").Path
        Path({str(path)!r}).write_bytes(make_elf([Seg(base, b"\\x13\\x00\\x00\\x00" * 3, memsz={memsz}, flags=7)], base))
        m = pltvm.Machine.user() if {kind!r} == "user" else pltvm.Machine.bare(ram_size=1 << 40)
        before = peak_mib()
        entry = m.load_elf({str(path)!r})
        report(entry=entry, grew=peak_mib() - before, last=m.mem_read(base + {memsz} - 8, 8).hex())
    """)
    assert out["grew"] < 64, out
    assert out["last"] == "00" * 8


@pytest.mark.parametrize("vaddr, memsz", [(0x10000, 0x40_0000_0000), (0x10000, (1 << 64) - 0x10000)])
def test_load_elf_with_an_impossible_memsz_is_an_elf_error_naming_the_segment(
    tmp_path: Path, vaddr: int, memsz: int
) -> None:
    path = tmp_path / "bad.elf"
    out = child(f"""
        import pltvm
        from pathlib import Path
        Path({str(path)!r}).write_bytes(make_elf([Seg({vaddr}, bytes(12), memsz={memsz}, flags=7)], {vaddr}))
        try:
            pltvm.Machine.user().load_elf({str(path)!r})
            report(error=None)
        except pltvm.ElfError as x:
            report(error=str(x))
    """)
    assert out["error"] is not None and "segment 0" in out["error"] and f"{vaddr:#x}" in out["error"], out
