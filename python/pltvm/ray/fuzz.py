"""Distributed fuzz campaigns: ``Fuzzer.run(..., jobs=N, ray=...)`` and ``pltvm fuzz -ray=``.

N workers run as Ray actors (one CPU each, anywhere in the cluster). Each holds the target
(``pltvm._core.FuzzTarget``: the ELF made a shadow template once, shipped through Ray's object
store) and runs the campaign in *slices*: one call runs the ordinary single-job LibAFL campaign
of :mod:`pltvm.fuzz` for ``slice_seconds`` (or the runs left to it), seeded with the worker's
own corpus and the entries the other workers found since its last slice, and returns the
entries of its corpus and its findings. Nothing crosses into Python per execution.

The driver (the process that called ``run``) keeps the campaign's corpus: it merges every
slice's entries (deduplicated by content), hands each worker what it has not seen, emits the
``"new"`` / ``"pulse"`` / ``"finding"`` events of :meth:`pltvm.fuzz.Fuzzer.run` (so the CLI
prints one status line for the whole campaign and writes the corpus directory and the findings
locally), and splits ``runs`` and ``max_total_time`` between the slices.

Restarting LibAFL per slice is libFuzzer's ``-fork`` mode: a slice re-runs its seeds first
(corpus-size executions, counted), and the queue starts over; the seeds are shuffled per slice
so every entry gets its turn. A worker that dies is replaced and starts from the whole corpus.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .cluster import RayClusterError, RayNotInstalled, connect

__all__ = ["run_campaign", "FuzzWorker", "SLICE_SECONDS"]

#: Seconds per slice: how often workers exchange corpus entries.
SLICE_SECONDS = 1.0
#: How many times in a campaign dead workers are replaced before it gives up.
MAX_REPLACEMENTS_PER_JOB = 3
#: Seconds to wait for the workers to start (each needs one free CPU in the cluster).
START_TIMEOUT = 120.0


class FuzzWorker:
    """One worker of a distributed campaign (a Ray actor; usable in-process too)."""

    def __init__(self, elf: bytes, max_len: int, max_instructions: int, map_size: int, cmplog: bool,
                 tokens: list[bytes], check: Optional[Callable[[str, Optional[int], bytes, bytes], None]],
                 deferred: bool = True, max_init_instructions: Optional[int] = None) -> None:
        from .. import _core

        # The deferred snapshot (pl_fuzz_input) is taken here, once per worker, as the Fuzzer
        # of the driver took it once.
        self._target = _core.FuzzTarget(elf, max_len=max_len, max_instructions=max_instructions, map_size=map_size,
                                        deferred=deferred, max_init_instructions=max_init_instructions)
        self._cmplog = cmplog
        self._tokens = tokens
        self._check = check
        self._corpus: list[bytes] = []

    def ready(self) -> bool:
        """Once the target is loaded: whether its executions fork the deferred snapshot."""
        return bool(self._target.deferred)

    def slice(self, imports: list[bytes], seed: int, runs: Optional[int], seconds: float,
              stop_on_finding: bool) -> dict[str, Any]:
        """One slice: a single-job campaign seeded with this worker's corpus and ``imports``
        (shuffled with ``seed``), for at most ``runs`` executions and ``seconds``. Returns the
        executions, edges, this worker's corpus after the slice, and the findings (raw, as
        ``FuzzTarget.fuzz`` gives them)."""
        seeds = self._corpus + imports
        random.Random(seed).shuffle(seeds)
        r = self._target.fuzz(seeds, seed=seed, jobs=1, cmplog=self._cmplog, tokens=self._tokens, runs=runs,
                              max_total_time=seconds, stop_on_finding=stop_on_finding, pulse=1e9, on_event=None,
                              check=self._check)
        if r["error"] is not None:
            raise r["error"]
        if r["corpus_entries"]:
            self._corpus = list(r["corpus_entries"])
        return {"executions": r["executions"], "edges": r["edges"], "corpus": self._corpus,
                "findings": r["findings"]}


_remote_cache: dict[str, Any] = {}


def _worker_actor(ray: Any) -> Any:
    cls = _remote_cache.get("worker")
    if cls is None:
        cls = ray.remote(FuzzWorker)
        _remote_cache["worker"] = cls
    return cls


def run_campaign(
    fuzzer: Any,
    seeds: list[bytes],
    *,
    ray: str,
    seed: int,
    jobs: int,
    runs: Optional[int],
    max_total_time: Optional[float],
    stop_on_finding: bool,
    pulse: float,
    on_event: Callable[[str, dict[str, Any], object], None],
    check: Optional[Callable[[str, Optional[int], bytes, bytes], None]],
    slice_seconds: float = SLICE_SECONDS,
) -> dict[str, Any]:
    """Runs ``fuzzer``'s campaign (a :class:`pltvm.fuzz.Fuzzer`) on ``jobs`` Ray workers and
    returns what ``FuzzTarget.fuzz`` returns (executions, elapsed, edges, corpus, findings,
    corpus_entries, interrupted, error), so :meth:`~pltvm.fuzz.Fuzzer.run` treats both alike.
    ``ray`` is ``"auto"`` or a cluster address (:func:`pltvm.ray.connect`). Raises
    :class:`pltvm.fuzz.FuzzError` if Ray is missing or the cluster cannot be reached."""
    from ..fuzz import FuzzError

    if not isinstance(ray, str) or not ray:
        raise FuzzError(f"ray must be 'auto' or a Ray cluster address (HOST:PORT), not {ray!r}")
    try:
        rt = connect(ray)
    except (RayNotInstalled, RayClusterError) as e:
        raise FuzzError(f"ray: {e}") from None
    try:
        elf = Path(fuzzer.path).read_bytes()
    except OSError as e:
        raise FuzzError(f"elf: cannot read {fuzzer.path}: {e.strerror}") from None
    elf_ref = rt.put(elf)
    actor = _worker_actor(rt)
    # Named (pltvm-fuzz-<campaign>-<worker>.<n>) so that operators and tests can find them.
    campaign = os.urandom(4).hex()
    started = itertools.count()

    def start(k: int) -> Any:
        return actor.options(num_cpus=1, max_restarts=0, name=f"pltvm-fuzz-{campaign}-{k}.{next(started)}").remote(
            elf_ref, fuzzer.max_len, fuzzer.max_instructions, fuzzer.map_size, fuzzer.cmplog, list(fuzzer.tokens),
            check, fuzzer.deferred_requested, fuzzer.max_init_instructions)

    workers = [start(k) for k in range(jobs)]
    start_time = time.monotonic()
    corpus: list[bytes] = []  # the campaign's corpus, in order of arrival
    origin: list[int] = []  # the worker each entry came from (seeds come back as a worker's entries)
    known: set[bytes] = set()  # SHA-1 of each entry
    cursor = [0] * jobs  # entries of `corpus` each worker has been given or found
    edges = [0] * jobs
    rounds = [0] * jobs  # slices given to each worker (its slice seeds are seed + k + jobs * round)
    fresh = [True] * jobs  # the worker has no corpus yet
    executions = 0
    allocated = 0  # runs handed to slices in flight
    findings: list[dict[str, Any]] = []
    found: set[tuple[str, bytes]] = set()
    inflight: dict[Any, tuple[int, int]] = {}  # slice ref -> (worker, runs given)
    replacements = 0
    stopping = interrupted = False
    error: Optional[BaseException] = None
    seed_entries = list(seeds)

    def progress() -> dict[str, Any]:
        return {"executions": executions, "elapsed": time.monotonic() - start_time, "edges": max(edges),
                "corpus": len(corpus)}

    def emit(kind: str, payload: object) -> None:
        nonlocal stopping, interrupted, error
        try:
            on_event(kind, progress(), payload)
        except BaseException as e:  # the caller's way to stop (e.g. Ctrl-C in its callback)
            error = error or e
            stopping = interrupted = True

    def merge(k: int, entries: list[bytes]) -> None:
        for b in entries:
            h = hashlib.sha1(b).digest()
            if h not in known:
                known.add(h)
                corpus.append(b)
                origin.append(k)
                emit("new", b)

    def launch(k: int) -> None:
        nonlocal allocated, stopping
        if stopping:
            return
        left_time = None if max_total_time is None else max_total_time - (time.monotonic() - start_time)
        if left_time is not None and left_time <= 0:
            stopping = True
            return
        give: Optional[int] = None
        if runs is not None:
            free = runs - executions - allocated
            if free <= 0:
                return
            give = max(1, -(-free // jobs))
            allocated += give
        if fresh[k]:  # a new worker (or the replacement of a dead one): everything
            imports = seed_entries + corpus
            fresh[k] = False
        else:
            imports = [b for b, o in zip(corpus[cursor[k]:], origin[cursor[k]:]) if o != k]
        cursor[k] = len(corpus)
        secs = slice_seconds if left_time is None else min(slice_seconds, left_time)
        ref = workers[k].slice.remote(imports, (seed + k + jobs * rounds[k]) & ((1 << 64) - 1), give, secs,
                                      stop_on_finding)
        rounds[k] += 1
        inflight[ref] = (k, give or 0)

    died = rt.exceptions.RayActorError
    last_pulse = time.monotonic()
    try:
        refs = [w.ready.remote() for w in workers]
        _, waiting = rt.wait(refs, num_returns=len(refs), timeout=START_TIMEOUT)
        if waiting:
            cpus = rt.cluster_resources().get("CPU", 0)
            raise FuzzError(f"ray: {len(waiting)} of {jobs} workers did not start within {START_TIMEOUT:.0f} s "
                            f"(each needs a free CPU; the cluster has {cpus:g})")
        for d in rt.get(refs):
            if d != fuzzer.deferred:  # the same ELF and options must give the same harness
                raise FuzzError(f"ray: a worker's target {'uses' if d else 'does not use'} the deferred snapshot, "
                                f"this process's {'does' if fuzzer.deferred else 'does not'}")
        for k in range(jobs):
            launch(k)
        while inflight:
            ready, _ = rt.wait(list(inflight), num_returns=1, timeout=min(pulse, 0.5))
            for ref in ready:
                k, given = inflight.pop(ref)
                allocated -= given
                try:
                    r = rt.get(ref)
                except died:
                    replacements += 1
                    if replacements > MAX_REPLACEMENTS_PER_JOB * jobs:
                        raise FuzzError(f"ray: fuzzing workers died {replacements} times; giving up") from None
                    workers[k] = start(k)
                    fresh[k] = True  # the new worker starts from the seeds and the whole corpus
                    launch(k)
                    continue
                executions += r["executions"]
                edges[k] = max(edges[k], r["edges"])
                merge(k, r["corpus"])
                for f in r["findings"]:
                    if stop_on_finding:
                        stopping = True
                        if findings:  # libFuzzer's rule: the first finding ends the campaign
                            break
                    key = (f["kind"], hashlib.sha1(f["input"]).digest())
                    if key in found:  # two workers found the same input
                        continue
                    found.add(key)
                    findings.append(f)
                    emit("finding", f)
                if runs is not None and executions >= runs:
                    stopping = True
                launch(k)
            if time.monotonic() - last_pulse >= pulse:
                last_pulse = time.monotonic()
                emit("pulse", None)
            if max_total_time is not None and time.monotonic() - start_time >= max_total_time:
                stopping = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for w in workers:
            try:
                rt.kill(w, no_restart=True)
            except Exception:
                pass
    return {"executions": executions, "elapsed": time.monotonic() - start_time, "edges": max(edges),
            "corpus": len(corpus), "findings": findings, "corpus_entries": corpus, "interrupted": interrupted,
            "error": error}
