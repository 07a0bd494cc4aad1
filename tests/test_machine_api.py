"""The public Machine API on hand-assembled programs."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import (
    A0,
    RAM_BASE,
    USER_BASE,
    bare_exit_program,
    bare_loop_program,
    bare_signature_program,
    needs_native,
    user_handshake_program,
    user_illegal_program,
    user_write_exit_program,
)

import pltvm

pytestmark = needs_native

MASK64 = (1 << 64) - 1


@pytest.fixture
def bare_exit_elf(write_elf) -> Path:
    return write_elf(*bare_exit_program(21))


@pytest.fixture
def bare_loop_elf(write_elf) -> Path:
    return write_elf(*bare_loop_program())


def test_exports() -> None:
    for name in ("Machine", "Exit", "ElfError", "PltvmError", "programs", "__version__"):
        assert hasattr(pltvm, name), name
    assert isinstance(pltvm.__version__, str) and pltvm.__version__


def test_bare_htif_exit(bare_exit_elf: Path) -> None:
    m = pltvm.Machine.bare(ram_size=1 << 20)
    assert m.kind == "bare"
    assert m.ram_base == RAM_BASE and m.ram_size == 1 << 20
    entry = m.load_elf(bare_exit_elf)
    assert entry == RAM_BASE and m.pc == RAM_BASE
    ex = m.run(max_instructions=10_000)
    assert ex.reason == "exit", ex
    assert ex.code == 21
    assert ex.instret == m.instret
    assert 3 <= ex.instret <= 5
    assert m.x[6] == (21 << 1) | 1  # t1


def test_defaults(bare_exit_elf: Path) -> None:
    m = pltvm.Machine.bare()
    assert m.ram_size == 128 << 20
    m.load_elf(str(bare_exit_elf))
    assert m.run().code == 21


def test_budget_is_exact(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    ex = m.run(max_instructions=1000)
    assert ex.reason == "budget"
    assert m.instret == 1000 and ex.instret == 1000
    assert m.pc == RAM_BASE + 4  # spinning on `j .`
    ex2 = m.run(max_instructions=234)
    assert ex2.reason == "budget" and ex2.instret == 234
    assert m.instret == 1234


def test_exit_fields(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    ex = m.run(max_instructions=10)
    assert (ex.reason, ex.code, ex.pc, ex.cause, ex.tval, ex.instret) == (
        "budget", None, RAM_BASE + 4, None, None, 10,
    )


def test_registers(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    assert len(m.x) == 32
    m.x[10] = 5
    assert m.x[10] == 5
    m.x[11] = -1
    assert m.x[11] == MASK64
    m.x[12] = 1 << 64 | 7
    assert m.x[12] == 7
    m.x[0] = 123
    assert m.x[0] == 0
    for bad in (32, -1, 100):
        with pytest.raises(IndexError):
            m.x[bad]
        with pytest.raises(IndexError):
            m.x[bad] = 1
    with pytest.raises(TypeError):
        m.x["a0"]  # type: ignore[index]
    values = list(m.x)
    assert len(values) == 32 and values[10] == 5
    # The guest sees register writes: run the loop program's first instruction (a0 = 1).
    m.x[A0] = 99
    m.run(max_instructions=1)
    assert m.x[A0] == 1


def test_pc_read_write(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    m.pc = RAM_BASE + 4  # skip `addi a0, zero, 1`
    m.x[A0] = 77
    ex = m.run(max_instructions=5)
    assert ex.reason == "budget" and m.x[A0] == 77 and m.pc == RAM_BASE + 4


def test_csrs(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    m.csr[0x340] = 0x1234_5678_9ABC_DEF0  # mscratch
    assert m.csr[0x340] == 0x1234_5678_9ABC_DEF0
    m.csr[0x340] = -2
    assert m.csr[0x340] == MASK64 - 1
    misa = m.csr[0x301]
    assert misa >> 62 == 2  # MXL = 64
    for letter in "imacsu":
        assert misa & (1 << (ord(letter) - ord("a"))), letter
    assert m.csr[0xF14] == 0  # mhartid
    with pytest.raises(KeyError):
        m.csr[0x7FF]  # no such CSR
    with pytest.raises(KeyError):
        m.csr[0x7FF] = 1
    with pytest.raises(KeyError):
        m.csr[0x1000]
    assert 0x340 in m.csr and 0x7FF not in m.csr
    assert m.csr.get(0x7FF) is None
    # minstret follows the instruction count
    m.run(max_instructions=50)
    assert m.csr[0xB02] == m.instret == 50


def test_memory_round_trip(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare(ram_size=1 << 20)
    m.load_elf(bare_loop_elf)
    addr = RAM_BASE + 0x8000
    assert m.mem_read(addr, 16) == b"\0" * 16
    m.mem_write(addr, b"pltvm!")
    assert m.mem_read(addr, 6) == b"pltvm!"
    m.mem_write(addr + 6, bytearray(b"\xff"))
    assert m.mem_read(addr, 8) == b"pltvm!\xff\0"
    # the loaded program is in memory
    assert m.mem_read(RAM_BASE, 4) == (0x00100513).to_bytes(4, "little")  # addi a0, zero, 1
    with pytest.raises(ValueError):
        m.mem_read(RAM_BASE + (1 << 20) - 2, 4)  # runs past RAM
    with pytest.raises(ValueError):
        m.mem_write(0x1000, b"x")


def test_signature(write_elf) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(write_elf(*bare_signature_program()))
    assert m.signature_range == (RAM_BASE + 0x2000, RAM_BASE + 0x200C)
    assert m.run().reason == "exit"
    assert m.signature() == [0xDEADBEEF, 1, 0x12345678]
    m2 = pltvm.Machine.bare()
    m2.load_elf(write_elf(*bare_exit_program(0)))
    assert m2.signature() is None


def test_bad_options() -> None:
    with pytest.raises(ValueError):
        pltvm.Machine.bare(misaligned="ignore")
    with pytest.raises(ValueError):
        pltvm.Machine.user(misaligned="")
    with pytest.raises(ValueError):
        pltvm.Machine.bare(ram_size=0)
    with pytest.raises(TypeError):
        pltvm.Machine.user(argv="prog")  # type: ignore[arg-type]


def test_user_write_and_exit(write_elf, capfd: pytest.CaptureFixture[str]) -> None:
    m = pltvm.Machine.user(argv=["guest"], env={"A": "1"})
    assert m.kind == "user"
    entry = m.load_elf(write_elf(*user_write_exit_program(b"hello from guest\n", 7)))
    assert entry == USER_BASE
    sp = m.x[2]
    assert sp and sp % 16 == 0 and sp < 0x40_0000_0000
    ex = m.run(max_instructions=1000)
    assert ex.reason == "exit" and ex.code == 7, ex
    out, _ = capfd.readouterr()
    assert out == "hello from guest\n"


def test_user_initial_stack(write_elf) -> None:
    m = pltvm.Machine.user(argv=["prog", "-x", "arg two"], env=["K=V", "EMPTY="])
    m.load_elf(write_elf(*user_write_exit_program()))
    sp = m.x[2]

    def u64(a: int) -> int:
        return int.from_bytes(m.mem_read(a, 8), "little")

    def cstr(a: int) -> bytes:
        out = b""
        while (c := m.mem_read(a + len(out), 1)) != b"\0":
            out += c
        return out

    argc = u64(sp)
    assert argc == 3
    argv = [cstr(u64(sp + 8 * (1 + i))) for i in range(argc)]
    assert argv == [b"prog", b"-x", b"arg two"]
    assert u64(sp + 8 * (1 + argc)) == 0
    p = sp + 8 * (2 + argc)
    envp = []
    while (e := u64(p)) != 0:
        envp.append(cstr(e))
        p += 8
    assert envp == [b"K=V", b"EMPTY="]
    p += 8
    auxv = {}
    while True:
        key, val = u64(p), u64(p + 8)
        p += 16
        if key == 0:
            break
        auxv[key] = val
    assert auxv[9] == USER_BASE  # AT_ENTRY
    assert auxv[6] == 4096  # AT_PAGESZ
    assert auxv[4] == 56 and auxv[5] == 1  # AT_PHENT, AT_PHNUM
    assert auxv[16] == (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12)  # AT_HWCAP: a c d f i m
    assert auxv[25] != 0 and len(m.mem_read(auxv[25], 16)) == 16  # AT_RANDOM filled in
    assert auxv[31] != 0 and cstr(auxv[31])  # AT_EXECFN filled in


def test_user_default_argv_and_env(write_elf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLTVM_TEST_MARKER", "yes")
    path = write_elf(*user_write_exit_program())
    m = pltvm.Machine.user()
    m.load_elf(path)
    sp = m.x[2]
    argc = int.from_bytes(m.mem_read(sp, 8), "little")
    assert argc == 1
    argv0 = int.from_bytes(m.mem_read(sp + 8, 8), "little")
    assert m.mem_read(argv0, len(str(path)) + 1) == os.fsencode(str(path)) + b"\0"
    envs = []
    p = sp + 24
    while (e := int.from_bytes(m.mem_read(p, 8), "little")) != 0:
        s = b""
        while (c := m.mem_read(e + len(s), 1)) != b"\0":
            s += c
        envs.append(s)
        p += 8
    assert b"PLTVM_TEST_MARKER=yes" in envs


def test_user_fault(write_elf) -> None:
    m = pltvm.Machine.user()
    m.load_elf(write_elf(*user_illegal_program()))
    ex = m.run(max_instructions=100)
    assert ex.reason == "fault"
    assert ex.cause == 2
    assert ex.pc == USER_BASE + 4
    assert ex.instret == 1


def test_user_load_twice_rejected(write_elf) -> None:
    p = write_elf(*user_write_exit_program())
    m = pltvm.Machine.user()
    m.load_elf(p)
    with pytest.raises(pltvm.PltvmError):
        m.load_elf(p)


def test_run_argument_checks(bare_loop_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_loop_elf)
    with pytest.raises(ValueError):
        m.run(max_instructions=-1)
    with pytest.raises(TypeError):
        m.run(max_instructions=1.5)  # type: ignore[arg-type]


_GIL_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    import pltvm

    elf = sys.argv[1]
    to_guest_r, to_guest_w = os.pipe()
    from_guest_r, from_guest_w = os.pipe()
    saved_out = os.dup(1)
    os.dup2(to_guest_r, 0)
    os.dup2(from_guest_w, 1)
    m = pltvm.Machine.user(argv=["handshake"])
    m.load_elf(elf)
    result = {}
    in_run = threading.Event()

    def worker():
        in_run.set()
        result["exit"] = m.run()

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    in_run.wait()
    # The guest writes "R" and then blocks in read(0): once we get "R" the run is in flight.
    got = os.read(from_guest_r, 1)
    # Python work on the main thread while the guest waits inside run(): only possible if run()
    # released the GIL.
    counter = 0
    for i in range(1000):
        counter += i
    os.write(to_guest_w, bytes([counter % 251]))
    t.join()
    os.dup2(saved_out, 1)
    ex = result["exit"]
    print(got.decode(), ex.reason, ex.code, counter % 251)
    """
)


def test_run_releases_gil(write_elf, tmp_path: Path) -> None:
    """The main thread runs Python code while another thread is inside Machine.run (the guest
    blocks in read(0) until the main thread feeds it a byte it computed)."""
    elf = write_elf(*user_handshake_program())
    script = tmp_path / "gil.py"
    script.write_text(_GIL_SCRIPT)
    try:
        r = subprocess.run(
            [sys.executable, str(script), str(elf)], capture_output=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: Machine.run does not release the GIL")
    assert r.returncode == 0, r.stderr.decode()
    expected = sum(range(1000)) % 251
    assert r.stdout.decode().split() == ["R", "exit", str(expected), str(expected)]


def test_exit_is_dataclass_copy(bare_exit_elf: Path) -> None:
    m = pltvm.Machine.bare()
    m.load_elf(bare_exit_elf)
    ex = m.run()
    assert type(ex) is pltvm.Exit and dataclasses.is_dataclass(ex)
    # auipc, li (one addi), sd to tohost: the run stops once the store retires, at the spin.
    done = pltvm.Exit("exit", 21, RAM_BASE + 12, None, None, 3)
    assert ex == done
    # A copy, not a view of the machine: running on changes the machine and leaves `ex` alone.
    assert m.run(max_instructions=5) == pltvm.Exit("budget", None, RAM_BASE + 12, None, None, 5)
    assert m.instret == 8
    assert ex == done
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.code = 0  # type: ignore[misc]



def test_user_segments_sharing_a_page(write_elf, capfd: pytest.CaptureFixture[str]) -> None:
    from conftest import PF_R, PF_W, Seg

    segs, entry = user_write_exit_program(b"same page\n", 5)
    n = len(segs[0].data)
    segs.append(Seg(USER_BASE + n + 3, b"\x11\x22", memsz=0x2000, flags=PF_R | PF_W))
    m = pltvm.Machine.user(argv=["x"], env={})
    m.load_elf(write_elf(segs, entry))
    assert m.mem_read(USER_BASE, 4) == segs[0].data[:4]
    assert m.mem_read(USER_BASE + n + 3, 4) == b"\x11\x22\0\0"
    ex = m.run()
    assert (ex.reason, ex.code) == ("exit", 5)
    assert capfd.readouterr().out == "same page\n"


def test_user_initial_brk(write_elf) -> None:
    """brk(0) returns the page-aligned end of the highest segment; exit((brk >> 12) & 0xFF)."""
    from conftest import A7, ECALL, PF_R, PF_W, Seg, code, li
    from conftest import _i  # the I-type encoder

    text = code(
        li(A0, 0), li(A7, 214), ECALL,
        _i(12, A0, 5, A0, 0x13),  # srli a0, a0, 12
        _i(255, A0, 7, A0, 0x13),  # andi a0, a0, 255
        li(A7, 93), ECALL,
    )
    segs = [Seg(USER_BASE, text), Seg(USER_BASE + 0x1000, b"d", memsz=0x1801, flags=PF_R | PF_W)]
    m = pltvm.Machine.user(argv=["brk"], env={})
    m.load_elf(write_elf(segs, USER_BASE))
    ex = m.run(max_instructions=100)
    assert ex.reason == "exit"
    assert ex.code == 0x13  # end 0x12801 rounds up to 0x13000
