"""``pltvm fuzz``: coverage-guided fuzzing of an enclave, in libFuzzer's conventions.

    pltvm fuzz ELF [CORPUS_DIR ...] [-runs=N] [-max_total_time=S] [-max_len=N]
               [-max_instructions=N] [-jobs=N] [-seed=N] [-dict=FILE] [-use_cmp=0|1]
               [-artifact_prefix=P] [-merge=1] [-print_final_stats=1] [-ray=auto|ADDRESS]
    pltvm fuzz ELF FILE ...        run each file once and report its outcome (reproduction)
    pltvm fuzz ELF FILE --gdb HOST:PORT   the same for one file, under gdb

Options are libFuzzer's ``-name=value`` flags (see :mod:`pltvm.fuzz` for the harness
contract). Status lines go to stderr.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from .common import EXIT_USAGE

__all__ = ["COMMANDS", "add_parsers", "main", "EXIT_CRASH", "EXIT_TIMEOUT", "EXIT_INTERRUPTED", "EXIT_USAGE"]

COMMANDS = ("fuzz",)
EXIT_CRASH = 77
EXIT_TIMEOUT = 70
EXIT_INTERRUPTED = 72  # libFuzzer's status for Ctrl-C, not the other commands' 130

USAGE = """\
usage: pltvm fuzz ELF [CORPUS_DIR ...] [-runs=N] [-max_total_time=S] [-max_len=N]
                  [-max_instructions=N] [-jobs=N] [-seed=N] [-dict=FILE] [-use_cmp=0|1]
                  [-artifact_prefix=P] [-merge=1] [-ray=auto|ADDRESS]
       pltvm fuzz ELF FILE ...
       pltvm fuzz ELF FILE --gdb HOST:PORT
"""

HELP = USAGE + """
Fuzz an enclave ELF (a file or a bundled enclave name, e.g. fuzz-magic4) with LibAFL: each input
runs in a fresh copy-on-write fork with the input in its shm at 0x39_0000_0000 (LE u64 length,
then the bytes). The first CORPUS_DIR receives new inputs; all are read as seeds.
With FILE arguments (not directories) each file runs once and its outcome is printed.
With --gdb HOST:PORT (one FILE only) that input is set up exactly as the campaign sets it up (a
fresh fork, the input in the shm, the deferred snapshot continued from pl_fuzz_input) and served
to gdb, which connects with `gdb-multiarch ELF -ex 'target remote HOST:PORT'` before the first
instruction. `continue` stops AT the faulting instruction of a crash (SIGSEGV, SIGILL, SIGBUS or
SIGTRAP; pc = the fault pc printed without --gdb, registers as before that instruction), and
with SIGXCPU when -max_instructions runs out (a timeout; continuing runs on past it). A bare port
(--gdb 1234 or :1234) listens on 127.0.0.1 only; another interface only when named.

  -runs=N               stop after N executions
  -max_total_time=S     stop after S seconds
  -max_len=N            longest input (default 4096)
  -max_instructions=N   instructions per run; more is a timeout (default 1000000)
  -jobs=N               worker threads sharing new corpus entries (default 1)
  -seed=N               random seed (default: random; printed)
  -dict=FILE            AFL/libFuzzer dictionary of tokens
  -use_cmp=0|1          comparison feedback (cmplog) for input-to-state mutation (default 1)
  -artifact_prefix=P    findings are written to P crash-<sha1> / P timeout-<sha1> (default ./)
  -merge=1              minimise the corpus dirs after the first into the first
  -keep_going=1         do not stop at the first finding
  -deferred=0|1         snapshot a target at its first pl_fuzz_input() call so its
                        initialisation runs once (default 1; see pltvm.fuzz)
  -max_init_instructions=N  budget of the initialisation run that looks for it (default 2**30)
  -ray=auto|ADDRESS     run the -jobs workers as Ray actors (needs pltvm[ray]): auto = RAY_ADDRESS,
                        a `ray start` cluster on this machine, else a new local instance;
                        ADDRESS = HOST:PORT of a cluster (or ray://HOST:PORT). The corpus dir and
                        findings are written here; one status line for the whole campaign

exit status: 0 nothing found; 77 a crash; 70 a timeout; 72 interrupted (Ctrl-C; the corpus is
kept); 2 bad usage (missing or invalid ELF, bad flag). Under --gdb: 77 when the input crashed,
70 when its budget ran out, else 0 (exited, or gdb detached or killed it).
"""

_INT_FLAGS = {"runs", "max_len", "max_instructions", "jobs", "seed", "use_cmp", "merge", "keep_going",
              "print_final_stats", "deferred", "max_init_instructions"}
_FLAGS = _INT_FLAGS | {"max_total_time", "dict", "artifact_prefix", "help", "ray"}


class _Usage(Exception):
    pass


def add_parsers(sub: Any) -> None:
    """Register ``fuzz`` for ``pltvm --help`` (its arguments are parsed by :func:`main`)."""
    sub.add_parser("fuzz", help="coverage-guided fuzzing of an enclave (libFuzzer-style flags)",
                   description=HELP, add_help=False)


def _parse(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    flags: dict[str, Any] = {}
    pos: list[str] = []
    for a in argv:
        if a.startswith("-") and len(a) > 1:
            name, eq, value = a.lstrip("-").partition("=")
            if name in ("h", "help"):
                flags["help"] = 1
                continue
            if name not in _FLAGS:
                raise _Usage(f"unknown flag {a!r}")
            if not eq:
                raise _Usage(f"flag -{name} needs a value: -{name}=VALUE")
            if name in _INT_FLAGS:
                try:
                    v: Any = int(value, 0)
                except ValueError:
                    raise _Usage(f"-{name} must be an integer, got {value!r}") from None
                if v < 0 or v >= 1 << 64:
                    raise _Usage(f"-{name} must be in [0, 2**64), got {value}")
            elif name == "max_total_time":
                try:
                    v = float(value)
                except ValueError:
                    raise _Usage(f"-max_total_time must be a number of seconds, got {value!r}") from None
                if not 0 <= v <= 1e9:
                    raise _Usage(f"-max_total_time must be in [0, 1e9], got {value}")
            else:
                if name == "ray" and not value:
                    raise _Usage("-ray needs a value: -ray=auto or -ray=HOST:PORT")
                v = value
            flags[name] = v
        else:
            pos.append(a)
    return flags, pos


def _say(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _report_finding(f: Any, prefix: str) -> int:
    path = f"{prefix}{f.name}"
    try:
        Path(path).write_bytes(f.input)
    except OSError as e:
        _say(f"pltvm: cannot write {path}: {e.strerror}")
    what = f.fault.describe() if f.fault else (f"check: {f.message}" if f.message else "instruction budget exhausted")
    _say(f"==pltvm== ERROR: {f.kind}: {what}")
    _say(f"Test unit written to {path}")
    return EXIT_CRASH if f.kind == "crash" else EXIT_TIMEOUT


def main(argv: Sequence[str]) -> int:
    """Run ``pltvm fuzz`` with the arguments after ``fuzz``; return the exit status."""
    try:
        gdb, argv = _take_gdb(argv)
        flags, pos = _parse(argv)
    except _Usage as e:
        sys.stderr.write(USAGE)
        _say(f"pltvm fuzz: error: {e}")
        return EXIT_USAGE
    if flags.get("help"):
        sys.stdout.write(HELP)
        return 0
    if not pos:
        sys.stderr.write(USAGE)
        _say("pltvm fuzz: error: the ELF to fuzz is required")
        return EXIT_USAGE
    from ..fuzz import FuzzError, Fuzzer

    elf, rest = pos[0], pos[1:]
    dirs = [p for p in rest if os.path.isdir(p)]
    files = [p for p in rest if not os.path.isdir(p)]
    if dirs and files:
        _say("pltvm fuzz: error: give corpus directories or input files, not both")
        return EXIT_USAGE
    missing = [p for p in files if not os.path.isfile(p)]
    if missing and not dirs and len(files) == len(missing) and len(files) == 1 and not os.path.exists(files[0]):
        # A corpus directory that does not exist yet: libFuzzer creates nothing, but a new
        # directory is the common case; create it.
        dirs, files = files, []
        try:
            os.makedirs(dirs[0], exist_ok=True)
        except OSError as e:
            _say(f"pltvm fuzz: error: cannot create {dirs[0]}: {e.strerror}")
            return EXIT_USAGE
    elif missing:
        _say(f"pltvm fuzz: error: no such file or directory: {missing[0]}")
        return EXIT_USAGE
    if gdb is not None:
        from ..machine import parse_gdb_address

        if len(files) != 1 or dirs:
            _say(f"pltvm fuzz: error: --gdb reproduces exactly one input FILE, got {len(files)} file(s)"
                 + (f" and {len(dirs)} directory(ies)" if dirs else ""))
            return EXIT_USAGE
        try:
            gdb_address = parse_gdb_address(gdb)
        except ValueError as e:
            _say(f"pltvm fuzz: error: --gdb: {e}")
            return EXIT_USAGE
    try:
        fz = Fuzzer(
            elf,
            max_len=flags.get("max_len", 4096) or 1,
            max_instructions=flags.get("max_instructions", 1_000_000) or 1,
            seed=flags.get("seed"),
            cmplog=bool(flags.get("use_cmp", 1)),
            dict=flags.get("dict"),
            deferred=bool(flags.get("deferred", 1)),
            max_init_instructions=flags.get("max_init_instructions"),
        )
    except FuzzError as e:
        _say(f"pltvm fuzz: error: {e}")
        return EXIT_USAGE
    except Exception as e:  # a loader error of the core, e.g. not an enclave
        _say(f"pltvm fuzz: error: {elf}: {e}")
        return EXIT_USAGE
    _say_init(fz)
    prefix = flags.get("artifact_prefix", "./")
    try:
        if gdb is not None:
            return _reproduce_under_gdb(fz, files[0], *gdb_address)
        if files:
            return _reproduce(fz, files)
        if flags.get("merge"):
            return _merge(fz, dirs)
        return _fuzz(fz, dirs, flags, prefix)
    except FuzzError as e:
        _say(f"pltvm fuzz: error: {e}")
        return EXIT_USAGE


def _say_init(fz: Any) -> None:
    """What the initialisation run found, when it matters: a deferred snapshot, or an
    initialisation that used its whole budget without reaching ``pl_fuzz_input``."""
    init = fz.init
    if init is None:
        return
    if init.snapshot:
        _say(f"INFO: deferred snapshot at pl_fuzz_input: initialisation ran once ({init.instructions} "
             f"instructions); every input starts there")
    elif init.outcome == "timeout":
        _say(f"INFO: no deferred snapshot: the empty input ran {init.instructions} instructions "
             f"(-max_init_instructions) without calling pl_fuzz_input; inputs run from the entry")


def _reproduce(fz: Any, files: list[str]) -> int:
    status = 0
    for p in files:
        data = Path(p).read_bytes()
        _say(f"Running: {p}")
        r = fz.run_one(data)
        if r.outcome == "ok":
            _say(f"Executed {p}: ok, exit value {r.retval}, {r.instructions} instructions")
        elif r.outcome == "crash":
            _say(f"==pltvm== ERROR: crash: {r.fault.describe()}")
            status = status or EXIT_CRASH
        else:
            _say(f"==pltvm== ERROR: timeout: more than {fz.max_instructions} instructions")
            status = status or EXIT_TIMEOUT
    return status


def _take_gdb(argv: Sequence[str]) -> tuple[Optional[str], list[str]]:
    """``--gdb HOST:PORT`` (or ``--gdb=``, ``-gdb=``) out of ``argv``: (address or None, the rest)."""
    gdb: Optional[str] = None
    rest: list[str] = []
    it = iter(argv)
    for a in it:
        name, eq, value = a.partition("=")
        if name in ("--gdb", "-gdb"):
            if gdb is not None:
                raise _Usage("--gdb given twice")
            if not eq:
                nxt = next(it, None)
                if nxt is None or nxt.startswith("-"):
                    raise _Usage("--gdb needs an address: --gdb HOST:PORT")
                value = nxt
            if not value:
                raise _Usage("--gdb needs an address: --gdb HOST:PORT")
            gdb = value
        else:
            rest.append(a)
    return gdb, rest


def _reproduce_under_gdb(fz: Any, path: str, host: str, port: int) -> int:
    """``pltvm fuzz ELF FILE --gdb``: one input under gdb (see :meth:`pltvm.fuzz.Fuzzer.debug`)."""
    from .common import serve_gdb

    data = Path(path).read_bytes()
    _say(f"Running: {path} under gdb")
    full: list[Any] = []

    def serve(address: str, ready: Any) -> tuple[str, Optional[int]]:
        r = fz.debug(data, address, ready=ready)
        full.append(r)
        return r[0], r[1]

    served = serve_gdb(serve, host, port)
    if isinstance(served, int):
        return EXIT_INTERRUPTED if served == 130 else served
    outcome, retval, fault, timed_out = full[0]
    if fault is not None:
        _say(f"==pltvm== ERROR: crash: {fault.describe()} (under gdb)")
        return EXIT_CRASH
    after = " after the budget ran out" if timed_out else ""
    if outcome == "exited":
        _say(f"Executed {path}: ok, exit value {retval} under gdb{after}")
    else:
        _say(f"pltvm: gdb {outcome}{after}")
    return EXIT_TIMEOUT if timed_out else 0


def _merge(fz: Any, dirs: list[str]) -> int:
    if len(dirs) < 2:
        _say("pltvm fuzz: error: -merge=1 needs an output directory and at least one input directory")
        return EXIT_USAGE
    from ..fuzz import read_corpus

    inputs = read_corpus([Path(d) for d in dirs[1:]])
    stats = fz.run(inputs, runs=len(inputs), stop_on_finding=False)
    out = Path(dirs[0])
    for data in stats.corpus:
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    _say(f"MERGE-OUTER: {len(inputs)} files, {len(stats.corpus)} kept in {out} (cov: {stats.edges})")
    return 0


def _fuzz(fz: Any, dirs: list[str], flags: dict[str, Any], prefix: str) -> int:
    from ..fuzz import read_corpus

    seed = fz.seed if fz.seed is not None else int.from_bytes(os.urandom(4), "little")
    fz.seed = seed
    _say(f"INFO: Seed: {seed}")
    seeds = read_corpus([Path(d) for d in dirs[1:]]) if len(dirs) > 1 else []
    out: Optional[Path] = Path(dirs[0]) if dirs else None

    def rate(p: dict[str, Any]) -> int:
        return int(p["executions"] / p["elapsed"]) if p["elapsed"] > 0 else 0

    def on_event(kind: str, p: dict[str, Any], payload: Any) -> None:
        if kind == "new":
            _say(f"#{p['executions']}\tNEW    cov: {p['edges']} corp: {p['corpus']} exec/s: {rate(p)}")
        elif kind == "pulse":
            _say(f"#{p['executions']}\tpulse  cov: {p['edges']} corp: {p['corpus']} exec/s: {rate(p)}")

    corpus: Any = out if out is not None else None
    if out is not None and seeds:
        corpus = [*read_corpus([out]), *seeds]
    start = time.monotonic()
    stats = fz.run(corpus, runs=flags.get("runs"), max_total_time=flags.get("max_total_time"),
                   jobs=flags.get("jobs", 1) or 1, stop_on_finding=not flags.get("keep_going"),
                   on_event=on_event, ray=flags.get("ray"))
    if out is not None and not isinstance(corpus, Path):
        for data in stats.corpus:
            (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    status = 0
    for f in stats.findings:
        status = status or _report_finding(f, prefix)
    if stats.interrupted:
        _say("==pltvm== INFO: interrupted (Ctrl-C); the corpus is kept")
        status = EXIT_INTERRUPTED
    secs = int(time.monotonic() - start)
    _say(f"Done {stats.executions} runs in {secs} second(s)")
    return status
