"""The committed user-mode ELFs are exactly what tests/user/Makefile builds from the sources.

Rebuilds every program (tests/user/*.c, benches/*.c and the bundled hello) into a temporary
directory with ``make OUT=...`` and compares byte for byte. Skipped only when the cross compiler
riscv64-unknown-elf-gcc is not installed (CI installs gcc-riscv64-unknown-elf).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAKEFILE_DIR = REPO / "tests" / "user"

# (directory of committed ELFs, subdirectory of OUT the Makefile writes them to)
OUTPUTS = [
    (REPO / "tests" / "user" / "build", "user"),
    (REPO / "benches" / "build", "benches"),
    (REPO / "python" / "pltvm" / "programs", "programs"),
]


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None,
                    reason="riscv64-unknown-elf-gcc is not installed")
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_committed_user_elfs_match_a_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        ["make", "-C", str(MAKEFILE_DIR), f"OUT={out}"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"make failed:\n{proc.stdout}\n{proc.stderr}"

    compared = 0
    problems = []
    for committed_dir, sub in OUTPUTS:
        built = {p.name for p in (out / sub).glob("*.elf")}
        committed = {p.name for p in committed_dir.glob("*.elf")}
        if sub == "programs":
            committed &= built | {"hello.elf"}  # other bundled programs may come from elsewhere
        for name in sorted(built - committed):
            problems.append(f"{committed_dir / name}: built but not committed")
        for name in sorted(committed - built):
            problems.append(f"{committed_dir / name}: committed but the Makefile does not build it")
        for name in sorted(built & committed):
            compared += 1
            if (out / sub / name).read_bytes() != (committed_dir / name).read_bytes():
                problems.append(f"{committed_dir / name}: differs from a rebuild "
                                f"(run `make -C tests/user` and commit the result)")
    assert not problems, "\n".join(problems)
    assert compared >= 10, f"only {compared} ELFs compared"
