#!/usr/bin/env python3
"""Benchmark pltvm against qemu-riscv64 on the user-mode programs in benches/build/.

Each program runs under ``pltvm exec --user --stats`` and under ``qemu-riscv64`` with the same
arguments, the two interleaved run by run; their stdout and exit status must match. The table
shows the instructions retired (from pltvm's ``--stats`` line) and:

* ``wall s``: wall-clock seconds of the whole process (interpreter start-up and ELF loading
  included), for pltvm and for qemu; ``wall ratio`` is pltvm's over qemu's;
* ``run MIPS``: instructions per second inside ``Machine.run`` only (pltvm's ``--stats`` line),
  so it leaves out pltvm's start-up; it is *not* the rate behind the wall ratio.

* ``compiled``, ``ms/block``, ``compile %`` (from ``--stats``'s jit line): blocks the compiling
  tier compiled, wall-clock milliseconds per compiled block, and the share of the time inside
  ``Machine.run`` spent compiling (0 blocks under ``--engine interp``).

With ``--repeat N`` each figure is ``best/median`` of the N runs (the ratio: of the best times,
and of the median times).

    python3 benches/run.py              # default sizes: about 10^9 instructions per program
    python3 benches/run.py --quick      # small sizes, a few seconds in all
    python3 benches/run.py --only sieve --repeat 3
    python3 benches/run.py --engine interp  # the interpreter alone (default: jit, docs/jit.md)

Not part of the test suite. Build the programs with ``make -C tests/user``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"

# argv[1] of each program: None = its built-in default (about 10^9 instructions).
# Every program is built twice: NAME.elf (rv64imac) and NAME-gc.elf (rv64gc, with F and D).
QUICK_ARGS = {"sieve": ["2"], "sha256": ["10"], "matmul": ["8"], "qsort": ["3"], "crc32": ["20"], "lz": ["6"],
              "nbody": ["200"], "nbody-gc": ["20000"]}
# Default-size arguments where the built-in default is sized for the other variant: nbody's
# default steps are for rv64gc; on rv64imac each step costs ~100x more (soft-float).
DEFAULT_ARGS = {"nbody": ["16000"]}
# Floating-point programs (their rv64imac build uses soft-float library calls).
FP_PROGRAMS = {"nbody"}

STATS_RE = re.compile(
    r"pltvm:\s*([0-9][0-9_,]*)\s+instructions?\s+in\s+([0-9.eE+-]+)\s*s\b(?:.*?([0-9.eE+-]+)\s*MIPS)?"
)


def parse_stats(stderr: str) -> tuple[Optional[int], Optional[float], Optional[float]]:
    """(instructions, seconds, MIPS) from the last ``pltvm: N instructions in S s, M MIPS`` line."""
    found: tuple[Optional[int], Optional[float], Optional[float]] = (None, None, None)
    for line in stderr.splitlines():
        m = STATS_RE.search(line)
        if m:
            n = int(re.sub(r"[_,]", "", m.group(1)))
            s = float(m.group(2))
            mips = float(m.group(3)) if m.group(3) else (n / s / 1e6 if s > 0 else None)
            found = (n, s, mips)
    return found


JIT_RE = re.compile(r"pltvm: jit: (\d+) blocks \((\d+) instructions\) compiled in ([0-9.]+) s")


def parse_jit(stderr: str) -> tuple[Optional[int], Optional[float]]:
    """(blocks compiled, seconds compiling) from ``pltvm exec --stats``'s jit line, if any."""
    for line in stderr.splitlines():
        m = JIT_RE.search(line)
        if m:
            return int(m.group(1)), float(m.group(3))
    return None, None


def strip_stats(stderr: str) -> str:
    return "".join(l for l in stderr.splitlines(True) if not STATS_RE.search(l) and not JIT_RE.search(l))


def timed(cmd: list[str], timeout: float) -> tuple[subprocess.CompletedProcess[bytes], float]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p, time.perf_counter() - t0


def geomean(xs: list[float]) -> Optional[float]:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x: Optional[float], spec: str) -> str:
    return "-" if x is None else format(x, spec)


@dataclass
class Fig:
    """One figure over repeated runs: the best (min of times, max of rates) and the median."""

    best: Optional[float]
    median: Optional[float]
    runs: int

    @staticmethod
    def of(xs: list[float], pick: Callable[[list[float]], float]) -> "Fig":
        return Fig(pick(xs), statistics.median(xs), len(xs)) if xs else Fig(None, None, 0)

    @staticmethod
    def geomean(figs: list["Fig"]) -> "Fig":
        runs = min((f.runs for f in figs), default=0)
        return Fig(geomean([f.best for f in figs if f.best]), geomean([f.median for f in figs if f.median]), runs)

    def show(self, spec: str) -> str:
        if self.runs <= 1:
            return fmt(self.best, spec)
        return f"{fmt(self.best, spec)}/{fmt(self.median, spec)}"


@dataclass
class Row:
    name: str
    pltvm: Fig
    mips: Fig
    qemu: Fig

    def ratio(self) -> Fig:
        """pltvm wall time over qemu's: of the best times, and of the medians."""
        def div(a: Optional[float], b: Optional[float]) -> Optional[float]:
            return a / b if a and b else None

        return Fig(div(self.pltvm.best, self.qemu.best), div(self.pltvm.median, self.qemu.median),
                   min(self.pltvm.runs, self.qemu.runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a few million instructions each)")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this program (repeatable)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per program and emulator, interleaved; figures show best/median")
    ap.add_argument("--pltvm", default=f"{shlex.quote(sys.executable)} -m pltvm",
                    help="command that runs pltvm (default: %(default)s)")
    ap.add_argument("--qemu", default="qemu-riscv64", help="qemu-user command (default: %(default)s)")
    ap.add_argument("--no-qemu", action="store_true", help="run pltvm only")
    ap.add_argument("--engine", choices=("interp", "jit"), default="jit",
                    help="pltvm's engine (pltvm exec --engine; default %(default)s): run the table once per engine")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("args", nargs="*", help="arguments for the programs instead of the defaults")
    ns = ap.parse_args()

    elfs = sorted(BUILD.glob("*.elf"))
    if ns.only:
        elfs = [p for p in elfs if p.stem in ns.only]
        missing = set(ns.only) - {p.stem for p in elfs}
        if missing:
            print(f"run.py: no such benchmark: {', '.join(sorted(missing))} "
                  f"(have: {', '.join(p.stem for p in sorted(BUILD.glob('*.elf')))})", file=sys.stderr)
            return 2
    if not elfs:
        print(f"run.py: no programs in {BUILD}; run `make -C tests/user`", file=sys.stderr)
        return 2
    use_qemu = not ns.no_qemu
    if use_qemu and shutil.which(shlex.split(ns.qemu)[0]) is None:
        print(f"run.py: {ns.qemu} not found (install qemu-user, or pass --no-qemu)", file=sys.stderr)
        return 2
    pltvm_cmd = shlex.split(ns.pltvm)

    n_runs = max(1, ns.repeat)
    if n_runs > 1:
        print(f"best/median of {n_runs} interleaved runs; wall = whole process, run MIPS = inside Machine.run")
    else:
        print("one run each; wall = whole process, run MIPS = inside Machine.run")
    print(f"pltvm engine: {ns.engine}")
    header = (f"{'program':<10} {'args':<6} {'instructions':>14} {'pltvm wall s':>15} {'run MIPS':>13} "
              f"{'qemu wall s':>15} {'wall ratio':>11} {'compiled':>8} {'ms/block':>8} {'compile %':>9}")
    print(header)
    print("-" * len(header))
    rows = []
    failed = False
    for elf in elfs:
        base = elf.stem.removesuffix("-gc")
        if ns.args:
            args = ns.args
        elif ns.quick:
            args = QUICK_ARGS.get(elf.stem, QUICK_ARGS.get(base, []))
        else:
            args = DEFAULT_ARGS.get(elf.stem, [])
        walls_p: list[float] = []
        walls_q: list[float] = []
        mipss: list[float] = []
        insns = None
        blocks: Optional[int] = None
        compile_s: list[float] = []
        run_s: list[float] = []
        problem = ""
        for _ in range(n_runs):
            p, tp = timed([*pltvm_cmd, "exec", "--user", "--stats", "--engine", ns.engine, str(elf), *args], ns.timeout)
            n, s, m = parse_stats(p.stderr.decode(errors="replace"))
            if n is not None:
                insns = n
            b, cs = parse_jit(p.stderr.decode(errors="replace"))
            if b is not None and cs is not None and s:
                blocks = b
                compile_s.append(cs)
                run_s.append(s)
            walls_p.append(tp)
            if m is not None:
                mipss.append(m)
            if use_qemu:
                q, tq = timed([*shlex.split(ns.qemu), str(elf), *args], ns.timeout)
                walls_q.append(tq)
                if p.stdout != q.stdout or p.returncode != q.returncode:
                    problem = (f"MISMATCH: pltvm exit {p.returncode}, qemu exit {q.returncode}, "
                               f"stdout {'same' if p.stdout == q.stdout else 'differs'}")
                    problem += f"\n  pltvm stdout: {p.stdout[-300:]!r}\n  qemu  stdout: {q.stdout[-300:]!r}"
                    rest = strip_stats(p.stderr.decode(errors="replace")).strip()
                    if rest:
                        problem += f"\n  pltvm stderr: {rest[-500:]}"
            elif p.returncode != 0:
                problem = f"pltvm exit status {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}"
        row = Row(elf.stem, Fig.of(walls_p, min), Fig.of(mipss, max), Fig.of(walls_q, min))
        rows.append(row)
        # Compile time: per block and as a share of the time inside Machine.run (medians).
        per_block = statistics.median(compile_s) / blocks * 1e3 if blocks else None
        share = statistics.median([c / r * 100 for c, r in zip(compile_s, run_s)]) if compile_s else None
        print(f"{elf.stem:<10} {' '.join(args) or '-':<6} {insns if insns is not None else '-':>14} "
              f"{row.pltvm.show('.3f'):>15} {row.mips.show('.1f'):>13} {row.qemu.show('.3f'):>15} "
              f"{row.ratio().show('.2f'):>11} {blocks if blocks is not None else '-':>8} "
              f"{fmt(per_block, '.2f'):>8} {fmt(share, '.1f'):>9}")
        if problem:
            failed = True
            print("  " + problem)
        sys.stdout.flush()
    print("-" * len(header))
    # The hart's speed target is stated for the integer programs built for rv64imac; the FP
    # program (nbody) and the rv64gc builds get their own lines.
    groups = [
        ("int imac", [r for r in rows if not r.name.endswith("-gc") and r.name not in FP_PROGRAMS]),
        ("rv64gc", [r for r in rows if r.name.endswith("-gc")]),
        ("all", rows),
    ]
    for label, rs in groups:
        if not rs:
            continue
        gp, gm, gq, gr = (Fig.geomean([f(r) for r in rs]) for f in
                          (lambda r: r.pltvm, lambda r: r.mips, lambda r: r.qemu, lambda r: r.ratio()))
        print(f"{'geomean':<10} {label:<21} {gp.show('.3f'):>15} {gm.show('.1f'):>13} "
              f"{gq.show('.3f'):>15} {gr.show('.2f'):>11}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
