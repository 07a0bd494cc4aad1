#!/usr/bin/env python3
"""Benchmark pltvm against qemu-riscv64 on the user-mode programs in benches/build/.

Each program runs under ``pltvm exec --user --stats``, once per engine (by default both the
compiling tier ``jit`` and the interpreter ``interp``, side by side), and under ``qemu-riscv64``
with the same arguments, all interleaved run by run; their stdout and exit status must match,
and both engines must retire the same number of instructions. The table shows the
instructions retired (from pltvm's ``--stats`` line) and:

* ``<engine> wall s``: wall-clock seconds of the whole pltvm process (interpreter start-up and
  ELF loading included), and ``qemu wall s`` the same for qemu; ``<engine>/qemu`` is the
  engine's wall time over qemu's;
* ``<engine> MIPS``: instructions per second inside ``Machine.run`` only (pltvm's ``--stats``
  line), so it leaves out pltvm's start-up; it is *not* the rate behind the wall ratio;
* ``qemu MIPS``: instructions (as pltvm counts them) over qemu's whole-process wall time, so
  it includes qemu's start-up and translation and understates qemu on short runs;
* ``compiled``, ``ms/block``, ``compile %`` (jit only, from ``--stats``'s jit line): blocks the
  compiling tier compiled, wall-clock milliseconds per compiled block, and the share of the
  time inside ``Machine.run`` spent compiling.

With ``--repeat N`` each figure is ``best/median`` of the N runs (the ratio: of the best times,
and of the median times).

    python3 benches/run.py              # default sizes: about 10^9 instructions per program
    python3 benches/run.py --quick      # small sizes, a few seconds in all
    python3 benches/run.py --only sieve --repeat 3
    python3 benches/run.py --engine jit     # one engine only (default: both, docs/jit.md)

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


def ratio(a: Fig, b: Fig) -> Fig:
    """a's wall time over b's: of the best times, and of the medians."""
    def div(x: Optional[float], y: Optional[float]) -> Optional[float]:
        return x / y if x and y else None

    return Fig(div(a.best, b.best), div(a.median, b.median), min(a.runs, b.runs))


@dataclass
class Row:
    """One program: per engine its wall time and run MIPS, and qemu's wall time and MIPS."""

    name: str
    wall: dict[str, Fig]
    mips: dict[str, Fig]
    qemu: Fig
    qemu_mips: Fig


ENGINES = {"both": ["jit", "interp"], "jit": ["jit"], "interp": ["interp"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a few million instructions each)")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this program (repeatable)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per program and emulator, interleaved; figures show best/median")
    ap.add_argument("--pltvm", default=f"{shlex.quote(sys.executable)} -m pltvm",
                    help="command that runs pltvm (default: %(default)s)")
    ap.add_argument("--qemu", default="qemu-riscv64", help="qemu-user command (default: %(default)s)")
    ap.add_argument("--no-qemu", action="store_true", help="run pltvm only")
    ap.add_argument("--engine", choices=tuple(ENGINES), default="both",
                    help="pltvm's engine (pltvm exec --engine), or both side by side (default %(default)s)")
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
    engines = ENGINES[ns.engine]

    n_runs = max(1, ns.repeat)
    if n_runs > 1:
        print(f"best/median of {n_runs} interleaved runs; wall = whole process, run MIPS = inside Machine.run, "
              "qemu MIPS = instructions / qemu's wall")
    else:
        print("one run each; wall = whole process, run MIPS = inside Machine.run, qemu MIPS = instructions / qemu's wall")
    print(f"pltvm engine: {', '.join(engines)}")
    cols = [f"{'program':<10} {'args':<6} {'instructions':>14}"]
    for e in engines:
        cols.append(f"{e + ' wall s':>15} {e + ' MIPS':>13}")
    cols.append(f"{'qemu wall s':>15} {'qemu MIPS':>13}")
    for e in engines:
        cols.append(f"{e + '/qemu':>11}")
    if "jit" in engines:
        cols.append(f"{'compiled':>8} {'ms/block':>8} {'compile %':>9}")
    header = " ".join(cols)
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
        walls: dict[str, list[float]] = {e: [] for e in engines}
        mipss: dict[str, list[float]] = {e: [] for e in engines}
        walls_q: list[float] = []
        insns = None
        blocks: Optional[int] = None
        compile_s: list[float] = []
        run_s: list[float] = []
        problems: list[str] = []
        for _ in range(n_runs):
            outs = {}
            for e in engines:
                p, tp = timed([*pltvm_cmd, "exec", "--user", "--stats", "--engine", e, str(elf), *args], ns.timeout)
                err = p.stderr.decode(errors="replace")
                n, s, m = parse_stats(err)
                if n is not None:
                    if insns is not None and n != insns:
                        problems.append(f"MISMATCH: {n} instructions under {e}, {insns} before")
                    insns = n
                if e == "jit":
                    b, cs = parse_jit(err)
                    if b is not None and cs is not None and s:
                        blocks = b
                        compile_s.append(cs)
                        run_s.append(s)
                walls[e].append(tp)
                if m is not None:
                    mipss[e].append(m)
                outs[e] = p
                if not use_qemu and p.returncode != 0:
                    problems.append(f"pltvm ({e}) exit status {p.returncode}: {err[-500:]}")
            if use_qemu:
                q, tq = timed([*shlex.split(ns.qemu), str(elf), *args], ns.timeout)
                walls_q.append(tq)
                for e, p in outs.items():
                    if p.stdout != q.stdout or p.returncode != q.returncode:
                        problem = (f"MISMATCH ({e}): pltvm exit {p.returncode}, qemu exit {q.returncode}, "
                                   f"stdout {'same' if p.stdout == q.stdout else 'differs'}")
                        problem += f"\n  pltvm stdout: {p.stdout[-300:]!r}\n  qemu  stdout: {q.stdout[-300:]!r}"
                        rest = strip_stats(p.stderr.decode(errors="replace")).strip()
                        if rest:
                            problem += f"\n  pltvm stderr: {rest[-500:]}"
                        problems.append(problem)
        qemu_mips = [insns / t / 1e6 for t in walls_q] if insns else []
        row = Row(elf.stem, {e: Fig.of(walls[e], min) for e in engines}, {e: Fig.of(mipss[e], max) for e in engines},
                  Fig.of(walls_q, min), Fig.of(qemu_mips, max))
        rows.append(row)
        # Compile time: per block and as a share of the time inside Machine.run (medians).
        per_block = statistics.median(compile_s) / blocks * 1e3 if blocks else None
        share = statistics.median([c / r * 100 for c, r in zip(compile_s, run_s)]) if compile_s else None
        line = [f"{elf.stem:<10} {' '.join(args) or '-':<6} {insns if insns is not None else '-':>14}"]
        for e in engines:
            line.append(f"{row.wall[e].show('.3f'):>15} {row.mips[e].show('.1f'):>13}")
        line.append(f"{row.qemu.show('.3f'):>15} {row.qemu_mips.show('.1f'):>13}")
        for e in engines:
            line.append(f"{ratio(row.wall[e], row.qemu).show('.2f'):>11}")
        if "jit" in engines:
            line.append(f"{blocks if blocks is not None else '-':>8} {fmt(per_block, '.2f'):>8} {fmt(share, '.1f'):>9}")
        print(" ".join(line))
        if problems:
            failed = True
            for problem in dict.fromkeys(problems):
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
        line = [f"{'geomean':<10} {label:<21}"]
        for e in engines:
            gw, gm = Fig.geomean([r.wall[e] for r in rs]), Fig.geomean([r.mips[e] for r in rs])
            line.append(f"{gw.show('.3f'):>15} {gm.show('.1f'):>13}")
        gq, gqm = Fig.geomean([r.qemu for r in rs]), Fig.geomean([r.qemu_mips for r in rs])
        line.append(f"{gq.show('.3f'):>15} {gqm.show('.1f'):>13}")
        for e in engines:
            line.append(f"{Fig.geomean([ratio(r.wall[e], r.qemu) for r in rs]).show('.2f'):>11}")
        print(" ".join(line))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
