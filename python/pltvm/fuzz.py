"""Coverage-guided fuzzing of enclaves (engine: LibAFL, in the Rust core's ``pltvm-fuzz`` crate).

The target is any enclave ELF, unmodified. It becomes a shadow template once; every input then
runs in a fresh copy-on-write fork:

* the input is in the enclave's shm at ``0x39_0000_0000``: a little-endian u64 length, then the
  bytes (the shm is ``max_len + 8`` bytes rounded up to whole pages; ``a0``/``a1`` at entry
  are its base and size, as for any enclave with shm);
* the enclave runs from its entry with a budget of ``max_instructions``;
* outcome: a normal exit (any value) is ``"ok"``; a fault (cause, pc, tval), an illegal monitor
  call or a run the monitor destroys is ``"crash"``; an exhausted budget is ``"timeout"``.
  OCALLs are served as usual and what the enclave prints is captured, not shown.

**Deferred snapshot.** A target that calls the guest SDK's ``pl_fuzz_input(&len)`` (guest
``fuzz.h``; OCALL ``0x504C0001``, :data:`FUZZ_INPUT_OCALL`) after its initialisation is detected
when the :class:`Fuzzer` is made: one instance runs the empty input, pauses in that call, and the
monitor's snapshot of it (:meth:`pltvm.Enclave.snapshot`) becomes the template of every
execution. Each execution then forks the initialised state, gets its input in the shm (same
layout) and continues from the call, which returns a pointer to the bytes and their length; its
instruction budget counts from there; a second call ends that input (ok). So the
initialisation runs once per campaign (per :class:`Fuzzer`), and its edges are not in the
coverage map. Targets that never call it, or do not reach it within ``max_init_instructions``,
run from their entry as described above (``deferred=False`` forces that).
:attr:`Fuzzer.deferred` and :attr:`Fuzzer.init` say what happened.

Coverage is edge coverage (collision-free ids interned per template) into a hit-count map, plus
comparison logging (cmplog) of branch and set-less-than operands for LibAFL's input-to-state
mutator. A campaign runs on worker threads with the GIL released; nothing crosses into Python per
execution unless ``check`` is given.

Example::

    from pltvm.fuzz import Fuzzer

    fz = Fuzzer("fuzz-magic4", max_len=64, seed=1)
    stats = fz.run(runs=200_000)
    for f in stats.findings:
        print(f.kind, f.input.hex(), f.fault.describe() if f.fault else f.message)
    print(fz.run_one(b"PLZM").outcome)      # reproduce one input
"""

from __future__ import annotations

import bisect
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from . import _core
from .arguments import DEFAULT_ENGINE, check_engine
from .errors import PltvmError

__all__ = ["Fuzzer", "FuzzStats", "Finding", "Fault", "RunResult", "FuzzError", "InitRun", "parse_dict", "run",
           "run_one", "CAUSE_NAMES", "FUZZ_INPUT_OCALL", "DEFAULT_MAX_INIT_INSTRUCTIONS"]

StrPath = Union[str, "os.PathLike[str]"]

DEFAULT_MAX_INSTRUCTIONS = 1_000_000
DEFAULT_MAX_INIT_INSTRUCTIONS = 1 << 30
"""Instruction budget of the initialisation run that looks for ``pl_fuzz_input``."""
FUZZ_INPUT_OCALL = 0x504C_0001
"""The OCALL id of the guest SDK's ``pl_fuzz_input`` (a pltvm extension; Penglai's are 1-12)."""
#: RISC-V exception causes by number; ``2**64 - 1`` = destroyed by the monitor, ``2**64 - 2`` =
#: rejected by the Python ``check`` oracle.
CAUSE_NAMES = {
    0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
    3: "breakpoint", 4: "load address misaligned", 5: "load access fault",
    6: "store address misaligned", 7: "store access fault", 8: "illegal monitor call",
    12: "instruction page fault", 13: "load page fault", 15: "store page fault",
    (1 << 64) - 1: "destroyed by the monitor", (1 << 64) - 2: "rejected by check",
}


class FuzzError(PltvmError, ValueError):
    """A bad fuzzing argument (the message names it) or a target that cannot be loaded."""


@dataclass(frozen=True)
class Fault:
    """Why a run crashed: RISC-V ``cause``, ``pc``, ``tval``; ``ecall`` = (a6, a7) of an
    illegal monitor call; ``symbol`` = the nearest ELF symbol at or below ``pc`` (``name+0xoff``)."""

    cause: int
    pc: int
    tval: int
    ecall: Optional[tuple[int, int]] = None
    symbol: Optional[str] = None

    @property
    def cause_name(self) -> str:
        """The cause as words, e.g. ``"store page fault"``."""
        if self.ecall is not None:
            return "illegal monitor call"
        return CAUSE_NAMES.get(self.cause, f"cause {self.cause}")

    def describe(self) -> str:
        """One line: cause name, pc with its symbol, tval (and the ecall's a6/a7)."""
        where = f"pc {self.pc:#x}" + (f" ({self.symbol})" if self.symbol else "")
        extra = f", a6 {self.ecall[0]:#x} a7 {self.ecall[1]:#x}" if self.ecall else ""
        return f"{self.cause_name} at {where}, tval {self.tval:#x}{extra}"


@dataclass(frozen=True)
class RunResult:
    """One input's run: ``outcome`` is ``"ok"``, ``"crash"`` or ``"timeout"``."""

    outcome: str
    retval: Optional[int]
    fault: Optional[Fault]
    output: bytes
    instructions: int
    edges: int
    """Edges hit by this run (0 for results passed to ``check``)."""


@dataclass(frozen=True)
class InitRun:
    """The run made when a :class:`Fuzzer` is created: the empty input until the target's
    first ``pl_fuzz_input`` (``outcome`` None: the deferred snapshot was taken there) or its end
    (``outcome`` ``"ok"``, ``"crash"`` or ``"timeout"``: no snapshot, inputs run from the
    entry)."""

    instructions: int
    output: bytes
    outcome: Optional[str]
    fault: Optional[Fault] = None

    @property
    def snapshot(self) -> bool:
        """The target paused in ``pl_fuzz_input``: executions fork the snapshot."""
        return self.outcome is None


@dataclass(frozen=True)
class Finding:
    """A crash or timeout found by a campaign."""

    kind: str
    input: bytes
    fault: Optional[Fault]
    message: Optional[str] = None
    """For findings of the ``check`` oracle: the exception it raised."""

    @property
    def name(self) -> str:
        """libFuzzer's artifact name: ``crash-<sha1>`` or ``timeout-<sha1>``."""
        return f"{self.kind}-{hashlib.sha1(self.input).hexdigest()}"


@dataclass(frozen=True)
class FuzzStats:
    """The end of a campaign."""

    executions: int
    elapsed: float
    edges: int
    corpus_size: int
    findings: list[Finding] = field(default_factory=list)
    interrupted: bool = False
    seed: int = 0
    corpus: list[bytes] = field(default_factory=list, repr=False)
    """The corpus entries the campaign added (and the seeds that added coverage)."""

    @property
    def execs_per_sec(self) -> float:
        """Executions per second of wall-clock time."""
        return self.executions / self.elapsed if self.elapsed > 0 else 0.0


def _resolve(elf: StrPath) -> tuple[str, bytes]:
    p = os.fspath(elf)
    if not os.path.exists(p):
        from . import enclaves

        try:
            p = str(enclaves.path(p))
        except FileNotFoundError:
            raise FuzzError(f"elf: no such file or bundled enclave: {os.fspath(elf)!r}") from None
    try:
        return p, Path(p).read_bytes()
    except OSError as e:
        raise FuzzError(f"elf: cannot read {p}: {e.strerror}") from None


def _symbols(path: str, data: bytes) -> tuple[list[int], list[str]]:
    try:
        from .elf import _symbols as read

        syms = sorted((v, n) for n, v in read(path, data).items() if v)
    except Exception:  # a target without a readable symbol table still fuzzes
        syms = []
    return [v for v, _ in syms], [n for _, n in syms]


def _unescape(s: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x" and i + 4 <= len(s):
                out.append(int(s[i + 2 : i + 4], 16))
                i += 4
                continue
            out.extend({"n": b"\n", "t": b"\t", "r": b"\r", "\\": b"\\", '"': b'"'}.get(n, n.encode()))
            i += 2
            continue
        out.extend(c.encode("utf-8"))
        i += 1
    return bytes(out)


def parse_dict(path: StrPath) -> list[bytes]:
    """Tokens of an AFL/libFuzzer dictionary file: lines ``name="value"`` or ``"value"`` with
    ``\\xNN``, ``\\n``, ``\\\\`` and ``\\"`` escapes; ``#`` comments and blank lines skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise FuzzError(f"dict: cannot read {os.fspath(path)}: {e.strerror}") from None
    tokens = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        q = line.find('"')
        if q < 0 or not line.endswith('"') or q == len(line) - 1:
            raise FuzzError(f"dict: {os.fspath(path)}:{n}: expected name=\"value\" or \"value\"")
        try:
            tokens.append(_unescape(line[q + 1 : -1]))
        except ValueError:
            raise FuzzError(f"dict: {os.fspath(path)}:{n}: bad \\x escape") from None
    return tokens


def _count(name: str, v: Optional[int], lo: int = 0) -> Optional[int]:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise FuzzError(f"{name} must be an int, not {type(v).__name__}")
    if v < lo or v >= 1 << 64:
        raise FuzzError(f"{name} must be in [{lo}, 2**64), got {v}")
    return v


class Fuzzer:
    """A fuzz target: ``elf`` (a path or a bundled enclave name) made a shadow template.

    ``max_len`` bytes of input at most; ``max_instructions`` per run (more is a timeout);
    ``seed`` for reproducible campaigns (None: random, recorded in the stats); ``cmplog``
    turns comparison feedback on; ``dict`` is a dictionary file (AFL/libFuzzer format) or a list
    of tokens; ``check(result)`` is an optional oracle called after every ok run with a
    :class:`RunResult` (``edges`` = 0): raising turns the run into a crash finding. It runs
    Python per execution (with the GIL), so campaigns with it are far slower.

    ``deferred`` (default on): a target that calls ``pl_fuzz_input`` within
    ``max_init_instructions`` (default 2**30) of its start is snapshotted there and every
    execution forks the initialised state (see the module docstring); :attr:`deferred` says
    whether it did, :attr:`init` how the initialisation run went.

    ``engine``: ``"jit"`` or ``"interp"`` (default: as :class:`pltvm.Machine`, docs/jit.md).
    Coverage and cmplog are counted identically by both, so a seeded campaign finds the same
    inputs; the jit runs loop-heavy targets faster.
    """

    def __init__(
        self,
        elf: StrPath,
        *,
        max_len: int = 4096,
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
        seed: Optional[int] = None,
        cmplog: bool = True,
        dict: Union[StrPath, Sequence[bytes], None] = None,  # noqa: A002 - the issue's name
        check: Optional[Callable[[RunResult], object]] = None,
        map_size: int = 1 << 16,
        deferred: bool = True,
        max_init_instructions: Optional[int] = None,
        engine: Optional[str] = None,
    ) -> None:
        if engine is None:
            engine = DEFAULT_ENGINE
        try:
            check_engine(engine)
        except (TypeError, ValueError) as e:
            raise FuzzError(str(e)) from None
        _count("max_len", max_len, 1)
        _count("max_init_instructions", max_init_instructions, 1)
        if max_len > 1 << 24:
            raise FuzzError(f"max_len must be at most 2**24, got {max_len}")
        _count("max_instructions", max_instructions, 1)
        _count("seed", seed)
        _count("map_size", map_size, 64)
        if check is not None and not callable(check):
            raise FuzzError("check must be callable")
        self.path, data = _resolve(elf)
        self.max_len = max_len
        self.max_instructions = max_instructions
        self.seed = seed
        self.cmplog = bool(cmplog)
        self.check = check
        self.map_size = map_size
        if dict is None:
            self.tokens: list[bytes] = []
        elif isinstance(dict, (str, os.PathLike)):
            self.tokens = parse_dict(dict)
        else:
            self.tokens = [bytes(t) for t in dict]
        try:
            self._target = _core.FuzzTarget(data, max_len=max_len, max_instructions=max_instructions,
                                            map_size=map_size, deferred=bool(deferred),
                                            max_init_instructions=max_init_instructions, engine=engine)
        except ValueError as e:
            raise FuzzError(f"{self.path}: {e}") from None
        except RuntimeError as e:  # the initialisation run could not be made or snapshotted
            raise FuzzError(f"{self.path}: {e}") from None
        self.engine = engine
        self.deferred_requested = bool(deferred)
        self.max_init_instructions = max_init_instructions
        self._addrs, self._names = _symbols(self.path, data)
        raw = self._target.init
        self.init: Optional[InitRun] = None
        """The initialisation run (None with ``deferred=False``)."""
        if raw is not None:
            instret, output, ended = raw
            self.init = InitRun(instret, output, None if ended is None else ended[0],
                                None if ended is None else self._fault(ended[2]))

    @property
    def deferred(self) -> bool:
        """Executions fork the deferred snapshot (the target called ``pl_fuzz_input``)."""
        return bool(self._target.deferred)

    def symbolize(self, pc: int) -> Optional[str]:
        """``name+0xoff`` of the nearest ELF symbol at or below ``pc``."""
        i = bisect.bisect_right(self._addrs, pc) - 1
        if i < 0:
            return None
        off = pc - self._addrs[i]
        return self._names[i] + (f"+{off:#x}" if off else "")

    def _fault(self, raw: Optional[tuple[int, int, int, Optional[tuple[int, int]]]]) -> Optional[Fault]:
        if raw is None:
            return None
        cause, pc, tval, ecall = raw
        return Fault(cause, pc, tval, ecall, self.symbolize(pc) if cause < (1 << 63) else None)

    def run_one(self, data: bytes) -> RunResult:
        """Runs one input in a fresh fork and returns its :class:`RunResult` (inputs longer than
        ``max_len`` are cut to it, as in campaigns)."""
        kind, retval, fault, output, instret, edges = self._target.run_one(bytes(data))
        return RunResult(kind, retval, self._fault(fault), output, instret, edges)

    def debug(
        self, data: bytes, address: Union[str, int] = "127.0.0.1:1234", *,
        ready: Optional[Callable[[int], object]] = None,
    ) -> tuple[str, Optional[int], Optional[Fault], bool]:
        """Serve one input to gdb (``target remote``), set up exactly as an execution sets it
        up: a fresh fork of the template (or of the deferred snapshot, continuing from
        ``pl_fuzz_input``), the input (cut to ``max_len``) in its shm, ``max_instructions`` as
        the budget. gdb stops before the first instruction; a fault stops it AT the faulting
        instruction (SIGSEGV, SIGILL, SIGBUS or SIGTRAP as for any program; pc, registers and
        memory as before that instruction); an exhausted budget stops it once with SIGXCPU (a
        further ``continue`` runs on past the budget). What the enclave prints goes to stdout.

        ``address`` as for :meth:`pltvm.Machine.gdb_serve` (loopback unless another host is
        named); ``ready(port)`` is called once listening. Returns ``(outcome, retval, fault,
        timed_out)``: outcome ``"exited"`` (``retval`` = the exit value), ``"fault"``
        (``fault`` = the :class:`Fault`), ``"detached"`` or ``"killed"``; ``timed_out`` says
        whether the budget ran out under gdb. Ctrl-C raises KeyboardInterrupt.
        """
        from .machine import parse_gdb_address

        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes")
        host, port = parse_gdb_address(address)
        outcome, retval, raw, timed_out = _core.gdb_serve_fuzz(self._target, bytes(data), host, port, ready)
        fault = self._fault((raw[0], raw[1], raw[2], None)) if raw is not None else None
        return outcome, retval, fault, bool(timed_out)

    def run(
        self,
        corpus: Union[StrPath, Iterable[Union[StrPath, bytes]], None] = None,
        *,
        runs: Optional[int] = None,
        max_total_time: Optional[float] = None,
        jobs: int = 1,
        stop_on_finding: bool = True,
        on_event: Optional[Callable[[str, dict[str, Any], object], object]] = None,
        pulse: float = 2.0,
        ray: Optional[str] = None,
    ) -> FuzzStats:
        """Fuzzes until ``runs`` executions, ``max_total_time`` seconds, a finding (unless
        ``stop_on_finding`` is false) or Ctrl-C (then ``interrupted``; the corpus so far is kept).

        ``corpus``: a directory (its files are the seeds and new inputs are written to it,
        named by their SHA-1), or an iterable of seed files / bytes. ``jobs`` worker threads
        share new corpus entries. ``on_event(kind, progress, payload)`` sees ``"new"`` (payload:
        the input), ``"pulse"`` every ``pulse`` s and ``"finding"``; progress has executions,
        elapsed, edges, corpus. Raising from it stops the campaign.

        ``ray`` (``"auto"`` or a Ray cluster address, ``HOST:PORT``): run the ``jobs`` workers
        as Ray actors instead of threads, sharing new entries through this process, which
        keeps the corpus and gets the events (:mod:`pltvm.ray.fuzz`; needs ``pltvm[ray]``).
        """
        _count("runs", runs)
        _count("jobs", jobs, 1)
        if jobs > 256:
            raise FuzzError(f"jobs must be at most 256, got {jobs}")
        if max_total_time is not None and (not isinstance(max_total_time, (int, float)) or max_total_time < 0
                                           or max_total_time != max_total_time or max_total_time > 1e9):
            raise FuzzError(f"max_total_time must be a number of seconds in [0, 1e9], got {max_total_time!r}")
        out_dir: Optional[Path] = None
        seeds: list[bytes] = []
        if corpus is not None:
            if isinstance(corpus, (str, os.PathLike)):
                out_dir = Path(corpus)
                if out_dir.exists() and not out_dir.is_dir():
                    raise FuzzError(f"corpus: not a directory: {out_dir}")
                out_dir.mkdir(parents=True, exist_ok=True)
                seeds = read_corpus([out_dir])
            else:
                for c in corpus:
                    if isinstance(c, (bytes, bytearray, memoryview)):
                        seeds.append(bytes(c))
                    else:
                        seeds.extend(read_corpus([Path(c)]))
        seed = self.seed if self.seed is not None else int.from_bytes(os.urandom(8), "little") >> 1

        def event(kind: str, progress: dict[str, Any], payload: object) -> None:
            if kind == "new" and out_dir is not None and isinstance(payload, bytes):
                (out_dir / hashlib.sha1(payload).hexdigest()).write_bytes(payload)
            if on_event is not None:
                on_event(kind, progress, self._finding(payload) if kind == "finding" else payload)

        check = None
        if self.check is not None:
            user = self.check

            def check(kind: str, retval: Optional[int], _input: bytes, output: bytes) -> None:
                user(RunResult(kind, retval, None, output, 0, 0))

        if ray is not None:
            try:
                from .ray.fuzz import run_campaign
            except ImportError as e:
                raise FuzzError(f"ray: {e}") from None
            r = run_campaign(
                self, seeds, ray=ray, seed=seed, jobs=jobs, runs=runs,
                max_total_time=None if max_total_time is None else float(max_total_time),
                stop_on_finding=stop_on_finding, pulse=pulse, on_event=event, check=check,
            )
        else:
            r = self._target.fuzz(
                seeds, seed=seed, jobs=jobs, cmplog=self.cmplog, tokens=self.tokens, runs=runs,
                max_total_time=None if max_total_time is None else float(max_total_time),
                stop_on_finding=stop_on_finding, pulse=pulse, on_event=event, check=check,
            )
        err = r["error"]
        interrupted = bool(r["interrupted"])
        if err is not None and not isinstance(err, KeyboardInterrupt):
            raise err
        return FuzzStats(
            executions=r["executions"], elapsed=r["elapsed"], edges=r["edges"], corpus_size=r["corpus"],
            findings=[self._finding(f) for f in r["findings"]], interrupted=interrupted, seed=seed,
            corpus=list(r["corpus_entries"]),
        )

    def _finding(self, d: object) -> Finding:
        assert isinstance(d, dict)
        _, _, fault = d["outcome"]
        return Finding(d["kind"], d["input"], self._fault(fault), d["message"])


def read_corpus(paths: Iterable[Path]) -> list[bytes]:
    """The contents of the files in these directories (sorted by name) and of these files."""
    out = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file():
                    out.append(f.read_bytes())
        elif p.is_file():
            out.append(p.read_bytes())
        else:
            raise FuzzError(f"corpus: no such file or directory: {p}")
    return out


def run(elf: StrPath, corpus: Union[StrPath, Iterable[Union[StrPath, bytes]], None] = None, **kw: object) -> FuzzStats:
    """``Fuzzer(elf, <Fuzzer options>).run(corpus, <run options>)`` in one call."""
    run_keys = {"runs", "max_total_time", "jobs", "stop_on_finding", "on_event", "pulse", "ray"}
    fz = Fuzzer(elf, **{k: v for k, v in kw.items() if k not in run_keys})  # type: ignore[arg-type]
    return fz.run(corpus, **{k: v for k, v in kw.items() if k in run_keys})  # type: ignore[arg-type]


def run_one(elf: StrPath, data: bytes, **kw: object) -> RunResult:
    """``Fuzzer(elf, **kw).run_one(data)``."""
    return Fuzzer(elf, **kw).run_one(data)  # type: ignore[arg-type]
