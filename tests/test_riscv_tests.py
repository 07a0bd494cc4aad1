"""riscv-tests' machine-mode programs (tests/riscv-tests/rv64mi/*.elf) on a bare machine.

Each program reports through HTIF: exit code 0 = pass, n = its test case n (TESTNUM) failed.
"""
from __future__ import annotations

from pathlib import Path

import pytest

DIR = Path(__file__).resolve().parent / "riscv-tests"
ELFS = sorted(DIR.glob("rv64mi/*.elf"))

# Programs pltvm is known to fail, with the reason. A listed program that passes fails this test
# (strict xfail), so the list cannot go stale.
EXPECTED_FAILURES: dict[str, str] = {}


def test_the_programs_are_there() -> None:
    names = {p.stem for p in ELFS}
    assert "rv64mi-p-breakpoint" in names
    assert len(names) == 17, sorted(names)
    assert set(EXPECTED_FAILURES) <= names


@pytest.mark.parametrize("elf", ELFS, ids=[p.stem for p in ELFS])
def test_riscv_tests_program(elf: Path, request: pytest.FixtureRequest) -> None:
    import pltvm

    if elf.stem in EXPECTED_FAILURES:
        request.applymarker(pytest.mark.xfail(reason=EXPECTED_FAILURES[elf.stem], strict=True))
    m = pltvm.Machine.bare(ram_size=64 << 20)
    m.load_elf(str(elf))
    ex = m.run(max_instructions=10_000_000)
    assert ex.reason == "exit", f"{elf.name}: {ex}"
    assert ex.code == 0, f"{elf.name}: test case {ex.code} failed ({ex})"
