"""Bare-metal, self-checking RISC-V ISA programs (tests/isa/*.S, prebuilt in tests/isa/build).

Each program reports through HTIF: exit code 0 = pass, n = test case n failed, and
1000 * (1 + c) + n = unexpected trap (c = mcause & 63, + 64 for interrupts) during case n.
Programs whose name ends in ``-trap`` expect the machine option ``misaligned="trap"``.
"""
from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ISA_DIR = Path(__file__).resolve().parent / "isa"
BUILD_DIR = ISA_DIR / "build"
ELFS = sorted(BUILD_DIR.glob("*.elf"))
SIGNATURE_ELF = BUILD_DIR / "signature.elf"
SIGNATURE_REF = ISA_DIR / "signature.reference"

CAUSES = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "ecall from U-mode",
    9: "ecall from S-mode",
    11: "ecall from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
}
INTERRUPTS = {1: "S software", 3: "M software", 5: "S timer", 7: "M timer", 9: "S external", 11: "M external"}


def describe(code: int) -> str:
    """Turn a program's exit code into a readable failure description."""
    if code < 1000:
        return f"test case {code} failed (see its number in the .S file)"
    case = code % 1000
    c = code // 1000 - 1
    if c >= 64:
        what = f"interrupt {c - 64} ({INTERRUPTS.get(c - 64, '?')})"
    else:
        what = f"exception {c} ({CAUSES.get(c, '?')})"
    return f"unexpected trap during test case {case}: {what}"


def _csr(m, number: int):
    try:
        return m.csr_read(number)
    except Exception:  # noqa: BLE001 - best effort diagnostics only
        try:
            return m.csr[number]
        except Exception:  # noqa: BLE001
            return None


def _hex(v) -> str:
    return "?" if v is None else hex(v)


def test_isa_programs_exist():
    names = {p.stem for p in ELFS}
    sources = {p.stem for p in ISA_DIR.glob("*.S")}
    assert sources, "no ISA test sources"
    assert sources == names, f"sources without a committed ELF (run make -C tests/isa): {sorted(sources ^ names)}"


@pytest.mark.parametrize("elf", ELFS, ids=[p.stem for p in ELFS])
def test_isa(elf: Path):
    import pltvm

    misaligned = "trap" if elf.stem.endswith("-trap") else "emulate"
    m = pltvm.Machine.bare(ram_size=64 << 20, misaligned=misaligned)
    m.load_elf(str(elf))
    ex = m.run(max_instructions=50_000_000)
    where = (
        f"pc={_hex(ex.pc)} mepc={_hex(_csr(m, 0x341))} mcause={_hex(_csr(m, 0x342))} "
        f"mtval={_hex(_csr(m, 0x343))} instret={ex.instret}"
    )
    assert ex.reason == "exit", (
        f"{elf.name}: run ended with reason {ex.reason!r} (cause={ex.cause}, tval={_hex(ex.tval)}), "
        f"not an HTIF exit; {where}"
    )
    assert ex.code == 0, f"{elf.name}: {describe(ex.code)}; {where}"


@pytest.mark.skipif(
    shutil.which("riscv64-unknown-elf-gcc") is None or shutil.which("make") is None,
    reason="riscv64-unknown-elf-gcc (or make) not installed",
)
def test_isa_elfs_are_reproducible(tmp_path: Path):
    """The committed ELFs are exactly what the sources build to."""
    out = tmp_path / "build"
    subprocess.run(
        ["make", "-s", "-C", str(ISA_DIR), f"BUILD={out}", "all"],
        check=True,
        capture_output=True,
        text=True,
    )
    built = sorted(p.name for p in out.glob("*.elf"))
    assert built == sorted(p.name for p in ELFS)
    stale = [name for name in built if not filecmp.cmp(out / name, BUILD_DIR / name, shallow=False)]
    assert not stale, f"committed ELFs differ from a fresh build (run make -C tests/isa): {stale}"


def test_isa_signature(tmp_path: Path):
    """`pltvm exec --bare --signature` dumps begin_signature..end_signature as 32-bit hex words."""
    out = tmp_path / "sig.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pltvm", "exec", "--bare", "--signature", str(out), str(SIGNATURE_ELF)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"exit status {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    assert out.read_text() == SIGNATURE_REF.read_text()
