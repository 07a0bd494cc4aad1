"""riscv-tests' machine-mode programs (rv64mi-p-*) on a bare machine.

riscv-tests is third-party code, so neither it nor programs built from it are in this
repository: build them from a checkout with ``tests/riscv-tests/build.sh CHECKOUT [OUT_DIR]``
and name the directory in ``PLTVM_RISCV_TESTS_DIR`` (default ``tests/riscv-tests/build``).
Without them this module is skipped; our own ISA programs (tests/isa, test_isa.py) cover the
same machine-mode features, triggers included, in every run.

Each program reports through HTIF: exit code 0 = pass, n = its test case n (TESTNUM) failed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

DIR = Path(os.environ.get("PLTVM_RISCV_TESTS_DIR") or Path(__file__).resolve().parent / "riscv-tests" / "build")
ELFS = sorted(DIR.glob("rv64mi-p-*.elf"))
if not ELFS:
    pytest.skip(f"riscv-tests not built (no rv64mi-p-*.elf in {DIR}; see tests/riscv-tests/build.sh)",
                allow_module_level=True)

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
