"""Differential tests: user-mode programs under pltvm and under qemu-riscv64 must agree.

Each case runs a committed ELF (tests/user/build/, benches/build/) with the same arguments,
environment and stdin under ``qemu-riscv64`` (the reference) and ``python -m pltvm exec --user``,
and compares stdout, stderr and exit status byte for byte. The programs are built by
``make -C tests/user`` (see tests/test_user_rebuild.py); their sources say what each one checks.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
USER_BUILD = REPO / "tests" / "user" / "build"
BENCH_BUILD = REPO / "benches" / "build"

# The guest sees exactly this environment under both emulators. LC_ALL keeps Python from adding
# LC_CTYPE to its own environment (PEP 538 locale coercion), which pltvm would pass on.
GUEST_ENV = {"A": "1", "B": "two", "LC_ALL": "C.UTF-8"}
if "PYTHONPATH" in os.environ:  # let `python -m pltvm` find the package; qemu gets it too
    GUEST_ENV["PYTHONPATH"] = os.environ["PYTHONPATH"]

TIMEOUT = 300

_TEXT = b"hello, world\nThe quick brown fox jumps over the lazy dog.\n\tTabs & symbols: {}[]!?\n"
_BIG = b"".join(b"line %d: abcdefghijklmnopqrstuvwxyz 0123456789\n" % i for i in range(3000))

# (program, args, stdin)
USER_CASES: list[tuple[str, list[str], bytes]] = [
    ("hello", [], b""),
    ("hello", ["a", "b c"], b""),
    ("printing", [], b""),
    ("args", [], b""),
    ("args", ["one", "two three", "", "-x", "--flag=1", "\u00fcn\u00efc\u00f6de"], b""),
    ("exitcode", ["0"], b""),
    ("exitcode", ["1"], b""),
    ("exitcode", ["42"], b""),
    ("exitcode", ["255"], b""),
    ("exitcode", ["256"], b""),
    ("exitcode", ["-1"], b""),
    ("exitcode", ["42", "exit"], b""),
    ("exitcode", ["300", "exit"], b""),
    ("exitcode", ["7", "group"], b""),
    ("brk", [], b""),
    ("stdin_upper", [], _TEXT),
    ("stdin_upper", ["1"], _TEXT),
    ("stdin_upper", ["4096"], _BIG),
    ("stdin_upper", [], b""),
    ("stdin_upper", ["13"], bytes(range(256)) * 4),
    ("nosys", [], b""),
    ("arith", [], b""),
    ("atomics", [], b""),
    ("memops", [], b""),
    ("compressed", [], b""),
    ("fpdiff", [], b"3ff0000000000000 4000000000000000 c008000000000000\n"
                   b"ffffffff7f800001 ffffffff3f800000 0000000000000001\n"),
]

# Programs that end with a trap: qemu-riscv64 dies of the signal, pltvm exits with 128 + signal
# (see `pltvm exec --help`). Their stdout and the signal must agree; stderr is not compared
# (pltvm describes the fault there).
FAULT_CASES: list[tuple[str, list[str], bytes]] = [
    ("fault", [kind], b"")
    for kind in ["illegal", "illegal16", "ebreak", "load", "store", "fetch", "amo-misaligned"]
]

BENCH_CASES: list[tuple[str, list[str], bytes]] = [
    ("sieve", ["1"], b""),
    ("sha256", ["0"], b""),
    ("sha256", ["3"], b""),
    ("matmul", ["2"], b""),
    ("qsort", ["2"], b""),
    ("crc32", ["3"], b""),
    ("lz", ["2"], b""),
    ("nbody", ["20"], b""),
]

# Every program is built twice (tests/user/Makefile): NAME.elf for rv64imac and NAME-gc.elf for
# rv64gc (F and D instructions; the FP-heavy nbody exercises them most). Both run every case.
VARIANTS = ["", "-gc"]


def _qemu() -> str:
    path = shutil.which("qemu-riscv64")
    if path is None:
        pytest.fail(
            "qemu-riscv64 is not on PATH: the differential tests need it as the reference "
            "(CI installs it with `apt-get install qemu-user`; do the same locally)",
            pytrace=False,
        )
    return path


def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run(cmd: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, input=stdin, capture_output=True, env=GUEST_ENV, timeout=TIMEOUT,
                          preexec_fn=_no_core_dumps)


def _show(data: bytes, limit: int = 2000) -> str:
    text = data.decode("utf-8", errors="backslashreplace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _first_difference(a: bytes, b: bytes) -> str:
    alines, blines = a.splitlines(True), b.splitlines(True)
    for i, (x, y) in enumerate(zip(alines, blines)):
        if x != y:
            return f"first differing line {i + 1}:\n  qemu:  {x!r}\n  pltvm: {y!r}"
    if len(alines) != len(blines):
        i = min(len(alines), len(blines))
        extra = "qemu" if len(alines) > len(blines) else "pltvm"
        rest = (alines if extra == "qemu" else blines)[i]
        return f"{extra} has more lines; line {i + 1}: {rest!r}"
    return "(difference within the last line)"


def _check(elf: Path, args: list[str], stdin: bytes, fault: bool = False) -> None:
    qemu = _qemu()
    if not elf.is_file():
        pytest.fail(f"{elf} is missing: build it with `make -C tests/user`", pytrace=False)
    ref = _run([qemu, str(elf), *args], stdin)
    got = _run([sys.executable, "-m", "pltvm", "exec", "--user", str(elf), *args], stdin)
    problems = []
    if got.stdout != ref.stdout:
        problems.append("stdout differs: " + _first_difference(ref.stdout, got.stdout))
    if fault:
        assert ref.returncode < 0, f"qemu-riscv64 did not die of a signal: {ref.returncode}"
        sig = -ref.returncode
        if got.returncode != 128 + sig:
            problems.append(f"qemu died of signal {sig} ({signal.Signals(sig).name}); pltvm exit "
                            f"status {got.returncode}, expected {128 + sig}; pltvm stderr: "
                            f"{_show(got.stderr)!r}")
    elif got.stderr != ref.stderr:
        problems.append(f"stderr differs:\n  qemu:  {_show(ref.stderr)!r}\n  pltvm: {_show(got.stderr)!r}")
    if not fault and got.returncode != ref.returncode:
        problems.append(f"exit status differs: qemu {ref.returncode}, pltvm {got.returncode}")
    if problems:
        pytest.fail(
            f"{elf.name} {args}: pltvm and qemu-riscv64 disagree\n" + "\n".join(problems),
            pytrace=False,
        )


def _case_id(case: tuple[str, list[str], bytes]) -> str:
    name, args, stdin = case
    parts = [name, *args] if args else [name]
    ident = "-".join(a if a else "''" for a in parts)
    if stdin:
        ident += f"-stdin{len(stdin)}"
    return ident.encode("ascii", "backslashreplace").decode()


@pytest.mark.parametrize("variant", VARIANTS, ids=["imac", "gc"])
@pytest.mark.parametrize("case", USER_CASES, ids=_case_id)
def test_user_program(case: tuple[str, list[str], bytes], variant: str) -> None:
    name, args, stdin = case
    _check(USER_BUILD / f"{name}{variant}.elf", args, stdin)


@pytest.mark.parametrize("variant", VARIANTS, ids=["imac", "gc"])
@pytest.mark.parametrize("case", FAULT_CASES, ids=_case_id)
def test_user_program_fault(case: tuple[str, list[str], bytes], variant: str) -> None:
    name, args, stdin = case
    _check(USER_BUILD / f"{name}{variant}.elf", args, stdin, fault=True)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=["imac", "gc"])
@pytest.mark.parametrize("case", BENCH_CASES, ids=_case_id)
def test_bench_program(case: tuple[str, list[str], bytes], variant: str) -> None:
    name, args, stdin = case
    _check(BENCH_BUILD / f"{name}{variant}.elf", args, stdin)


def test_every_program_is_covered() -> None:
    """Each committed user test ELF and benchmark has at least one differential case."""
    user = {p.stem.removesuffix("-gc") for p in USER_BUILD.glob("*.elf")}
    bench = {p.stem.removesuffix("-gc") for p in BENCH_BUILD.glob("*.elf")}
    assert user, f"no ELFs in {USER_BUILD}"
    assert bench, f"no ELFs in {BENCH_BUILD}"
    covered = {c[0] for c in USER_CASES + FAULT_CASES}
    assert user <= covered, user - covered
    assert bench <= {c[0] for c in BENCH_CASES}, bench - {c[0] for c in BENCH_CASES}
