"""Differential test of the F and D extensions: pltvm against qemu-riscv64, bit for bit.

``tests/user/fpdiff.c`` reads operand triples (64-bit patterns, hex) from stdin and prints, for
every F/D operation under every rounding mode, the result bits and the fflags raised. Random
triples (a fixed, printed seed; ``PLTVM_FP_SEED`` overrides it) lean on the interesting values:
quiet and signalling NaNs, properly and improperly NaN-boxed singles, infinities, subnormals,
signed zeros, the edges of the normal range, integer conversion boundaries, and pairs built to
cancel or to land next to the smallest normal number. The output of the rv64gc build must be
identical under both emulators; the rv64imac build (compiler soft-float) is compared too.
``benches/fp_diff_long.py`` runs the same comparison on many more triples.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "tests" / "user" / "build"
SEED = int(os.environ.get("PLTVM_FP_SEED", "20240607"))
COUNT = 3000

F32_SPECIAL = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
    0xFF800001, 0x7FA00000, 0x7FFFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
    0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000, 0x3F000000, 0x3FC00000,
    0x4F000000, 0xCF000000, 0x4EFFFFFF, 0x4F800000, 0x5F000000, 0xDF000000, 0x5F800000,
    0x3F7FFFFF, 0x33800000, 0x34000000, 0x3EFFFFFF, 0x3F400000, 0xBF400000, 0x40200000,
]
F64_SPECIAL = [
    0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000,
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFF4000000000000,
    0x7FFFFFFFFFFFFFFF, 0x0000000000000001, 0x8000000000000001, 0x000FFFFFFFFFFFFF,
    0x0010000000000000, 0x8010000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,
    0x3FF0000000000000, 0xBFF0000000000000, 0x3FE0000000000000, 0x3FF8000000000000,
    0x41E0000000000000, 0xC1E0000000000000, 0x41DFFFFFFFC00000, 0x41EFFFFFFFE00000,
    0x41F0000000000000, 0xC1E0000000200000, 0x43E0000000000000, 0xC3E0000000000000,
    0x43F0000000000000, 0x43DFFFFFFFFFFFFF, 0x3FEFFFFFFFFFFFFF, 0x3CA0000000000000,
    0x3FE8000000000000, 0xC004000000000000, 0x4330000000000001, 0x36A0000000000000,
    0x380FFFFFE0000000, 0x47EFFFFFE0000000, 0x3810000000000000,
]
INT_SPECIAL = [
    0, 1, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF80000000, 0x80000000, 0xFFFFFFFF,
    0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0x0020000000000001, 0x0000000001000001,
    0xFFFFFFFFFEFFFFFF, 0x00000000FFFFFFFF, 0x123456789ABCDEF0,
]


def box(s: int) -> int:
    return 0xFFFFFFFF00000000 | s


def random_f32(rng: random.Random) -> int:
    k = rng.random()
    if k < 0.3:
        return rng.choice(F32_SPECIAL)
    if k < 0.5:  # near the edges of the exponent range
        e = rng.choice([0, 1, 2, 0x7D, 0x7E, 0x7F, 0x80, 0x96, 0x9D, 0x9E, 0xBE, 0xBF, 0xFD, 0xFE])
        return (rng.getrandbits(1) << 31) | (e << 23) | rng.getrandbits(23)
    if k < 0.6:
        return (rng.getrandbits(1) << 31) | (0xFF << 23) | rng.getrandbits(23)  # inf / NaNs
    return rng.getrandbits(32)


def random_f64(rng: random.Random) -> int:
    k = rng.random()
    if k < 0.3:
        return rng.choice(F64_SPECIAL)
    if k < 0.5:
        e = rng.choice([0, 1, 2, 0x368, 0x369, 0x36A, 0x380, 0x381, 0x3FE, 0x3FF, 0x400, 0x433,
                        0x41D, 0x41E, 0x41F, 0x43D, 0x43E, 0x43F, 0x47E, 0x47F, 0x7FD, 0x7FE])
        return (rng.getrandbits(1) << 63) | (e << 52) | rng.getrandbits(52)
    if k < 0.6:
        return (rng.getrandbits(1) << 63) | (0x7FF << 52) | rng.getrandbits(52)
    return rng.getrandbits(64)


def operand(rng: random.Random) -> int:
    """One 64-bit register pattern: a double, a (mostly boxed) single, or an integer."""
    k = rng.random()
    if k < 0.42:
        return random_f64(rng)
    if k < 0.84:
        s = random_f32(rng)
        return box(s) if rng.random() < 0.9 else (rng.getrandbits(32) << 32 | s)
    if k < 0.94:
        return rng.choice(INT_SPECIAL)
    return rng.getrandbits(64)


def related(rng: random.Random, a: int) -> int:
    """An operand that makes an interesting pair with a: a neighbour, its negation, a value
    whose product with a lands near the smallest normal number."""
    single = a >> 32 == 0xFFFFFFFF
    k = rng.random()
    if single:
        s = a & 0xFFFFFFFF
        if k < 0.3:
            return box(s ^ 0x80000000)
        if k < 0.6:
            return box((s + rng.choice([-1, 1])) & 0xFFFFFFFF)
        # |a * b| ~ 2^-126
        e = (s >> 23) & 0xFF
        eb = max(1, min(0xFE, 127 - 126 + 127 - e))
        return box((s & 0x80000000) | (eb << 23) | rng.getrandbits(23))
    if k < 0.3:
        return a ^ (1 << 63)
    if k < 0.6:
        return (a + rng.choice([-1, 1])) & 0xFFFFFFFFFFFFFFFF
    e = (a >> 52) & 0x7FF
    eb = max(1, min(0x7FE, 1023 - 1022 + 1023 - e))
    return (a & (1 << 63)) | (eb << 52) | rng.getrandbits(52)


def vectors(seed: int, count: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        a = operand(rng)
        b = related(rng, a) if rng.random() < 0.35 else operand(rng)
        if rng.random() < 0.2:  # fma: an addend that cancels the product's high part
            c = b ^ (1 << 63) if rng.random() < 0.5 else operand(rng)
        else:
            c = operand(rng)
        lines.append(f"{a:016x} {b:016x} {c:016x}\n")
    return "".join(lines).encode()


def run_both(elf: Path, data: bytes, timeout: float = 600) -> tuple[bytes, bytes]:
    qemu = shutil.which("qemu-riscv64")
    if qemu is None:
        pytest.fail("qemu-riscv64 is not on PATH (apt-get install qemu-user)", pytrace=False)
    ref = subprocess.run([qemu, str(elf)], input=data, capture_output=True, timeout=timeout)
    got = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--user", str(elf)], input=data,
                         capture_output=True, timeout=timeout)
    assert ref.returncode == 0, ref.stderr.decode(errors="replace")
    assert got.returncode == 0, got.stderr.decode(errors="replace")
    return ref.stdout, got.stdout


def first_difference(ref: bytes, got: bytes) -> str:
    current = ""
    for r, g in zip(ref.splitlines(), got.splitlines()):
        if not r.startswith(b" "):
            current = r.decode()
        if r != g:
            return f"operands {current}\n  qemu:  {r.decode()}\n  pltvm: {g.decode()}"
    return f"outputs differ in length ({len(ref)} vs {len(got)} bytes)"


@pytest.mark.parametrize("variant", ["fpdiff-gc", "fpdiff"])
def test_fp_ops_match_qemu(variant: str) -> None:
    print(f"PLTVM_FP_SEED={SEED} ({COUNT} operand triples)")
    elf = BUILD / f"{variant}.elf"
    assert elf.is_file(), f"{elf} missing: run make -C tests/user"
    ref, got = run_both(elf, vectors(SEED, COUNT))
    assert ref.endswith(f"{COUNT} vectors\n".encode()), ref[-200:]
    if ref != got:
        pytest.fail(f"seed {SEED}: " + first_difference(ref, got), pytrace=False)


def test_special_values_are_exercised() -> None:
    """The generator really produces the classes the test promises."""
    data = vectors(SEED, COUNT).split()
    words = [int(w, 16) for w in data]
    assert any(w >> 32 == 0xFFFFFFFF and (w & 0x7FC00000) == 0x7F800000 and w & 0x3FFFFF for w in words)
    assert any(w >> 32 not in (0, 0xFFFFFFFF) and (w >> 52) & 0x7FF == 0 for w in words)
    assert any(w >> 32 != 0xFFFFFFFF and (w >> 51) & 0xFFF == 0xFFF for w in words)
    assert any(w == 0x8000000000000000 for w in words)
    assert any(struct.unpack("<d", struct.pack("<Q", w))[0] in (float("inf"), float("-inf")) for w in words)
