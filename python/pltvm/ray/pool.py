"""``EnclavePool``: many replicas of one enclave on a Ray cluster, one input per fork.

Each replica is a Ray actor holding a :class:`~pltvm.Device` and a shadow template of the ELF
(:class:`~pltvm.ray.runner.Replica`). The ELF's bytes are put in Ray's object store once and
handed to every actor (a node fetches them once, however many replicas it runs), so a cluster
needs pltvm installed on every node but not the ELF file.

:meth:`EnclavePool.map` sends inputs in batches (one Ray call per ``batch_size`` inputs, so
Ray's per-call cost is shared by the batch), keeps at most ``max_in_flight`` batches per
replica outstanding (back-pressure: the input iterable is read only as results are consumed)
and yields results in input order. A batch whose replica dies (``ray.kill``, a node lost, the
worker process crashed) is sent again, to another replica or to the replacement the pool
starts for the dead one, so no input is lost and the order is kept.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Union

from ..attest import Report, measure
from ..arguments import elf_type_problem, load_elf
from ..errors import InvalidEnclave, PltvmError
from .cluster import connect
from .runner import (DEFAULT_MAX_INSTRUCTIONS, DEFAULT_SHM_SIZE, Replica, Result, check_inputs, count_arg,
                     shm_size_arg, unpack)

__all__ = ["EnclavePool", "PoolError"]

_remote_cache: dict[str, Any] = {}


def _replica_actor(ray: Any) -> Any:
    """:class:`Replica` as a Ray actor class (made once per process)."""
    cls = _remote_cache.get("replica")
    if cls is None:
        cls = ray.remote(Replica)
        _remote_cache["replica"] = cls
    return cls


class PoolError(PltvmError, RuntimeError):
    """The pool cannot go on: closed, its replicas keep dying, or they did not start."""


@dataclass
class _Batch:
    index: int
    inputs: list[bytes]
    slot: int = -1
    generation: int = -1
    attempts: int = 0


class EnclavePool:
    """``replicas`` Ray actors, each with a shadow template of ``elf`` (a path, ELF bytes or a
    bundled enclave name such as ``"hello-world"``), running one input per copy-on-write fork.

    Each input is delivered in the fork's shm (``shm_size`` bytes, whole pages): its length as a
    little-endian u64 then its bytes, the rest zero, so at most ``shm_size - 8`` bytes. A run has
    at most ``max_instructions`` instructions (then its outcome is ``"timeout"``).

    ``batch_size`` inputs go to a replica per Ray call; ``max_in_flight`` batches per replica are
    outstanding at most. ``num_cpus`` is what Ray reserves per replica (1: Ray spreads replicas
    over the cluster's CPUs). ``address`` is used only if this process has no Ray session yet
    (see :func:`pltvm.ray.connect`). ``max_retries`` bounds how often one batch is resent after
    its replica died; ``start_timeout`` (seconds) how long to wait for replicas to start.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        elf: Union[str, bytes, Any],
        *,
        replicas: int = 1,
        shm_size: int = DEFAULT_SHM_SIZE,
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
        batch_size: int = 256,
        max_in_flight: int = 2,
        num_cpus: float = 1.0,
        secure_memory: Union[int, str, None] = None,
        address: Optional[str] = "auto",
        max_retries: int = 3,
        start_timeout: Optional[float] = 300.0,
    ) -> None:
        self._replicas = count_arg(replicas, "replicas", 1, 100_000)
        self.shm_size = shm_size_arg(shm_size)
        self.max_instructions = count_arg(max_instructions, "max_instructions")
        self.batch_size = count_arg(batch_size, "batch_size", 1, 1 << 24)
        self.max_in_flight = count_arg(max_in_flight, "max_in_flight", 1, 1 << 16)
        self.max_retries = count_arg(max_retries, "max_retries", 0, 1 << 16)
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or not 0 <= num_cpus <= 1 << 16:
            raise ValueError(f"num_cpus must be a number in [0, 65536], not {num_cpus!r}")
        if start_timeout is not None and (isinstance(start_timeout, bool) or not isinstance(start_timeout, (int, float))
                                          or not 0 < start_timeout < 1e9):
            raise ValueError(f"start_timeout must be a positive number of seconds or None, not {start_timeout!r}")
        data, label = load_elf(elf)
        problem = elf_type_problem(data)
        if problem is not None:
            raise InvalidEnclave(f"{label}: {problem}")
        try:
            self.measurement: bytes = measure(data, "shadow")
            """The template's measurement, computed locally from the ELF: every replica's
            report must carry it."""
        except ValueError as e:
            raise InvalidEnclave(f"{label}: {e}") from None
        self._ray = ray = connect(address)
        self._closed = False
        self._elf_ref = ray.put(data)  # shipped once; each node fetches it once
        self._options = {"num_cpus": float(num_cpus), "max_restarts": 0}
        self._secure_memory = secure_memory
        self._actors: list[Any] = []
        self._generation: list[int] = []
        self._outstanding: list[int] = []
        # Per slot: the `ready` call of a replacement not yet known to be up, else None.
        self._starting: list[Any] = []
        self._rr = itertools.count()
        self.restarts = 0
        """Replicas started again after one died."""
        self.retried_batches = 0
        """Batches sent again because their replica died."""
        try:
            for _ in range(self._replicas):
                self._actors.append(self._start())
                self._generation.append(0)
                self._outstanding.append(0)
                self._starting.append(None)
            self._wait_ready(self._actors, start_timeout)
        except BaseException:
            self.close()
            raise

    # --- replicas ----------------------------------------------------------------------------

    def _start(self) -> Any:
        actor = _replica_actor(self._ray).options(**self._options)
        return actor.remote(self._elf_ref, self.shm_size, self.max_instructions, self._secure_memory)

    def _wait_ready(self, actors: list[Any], timeout: Optional[float]) -> None:
        ray = self._ray
        refs = [a.ready.remote() for a in actors]
        ready, waiting = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if waiting:
            raise PoolError(f"{len(waiting)} of {len(refs)} replicas did not start within {timeout} s "
                            f"(does the cluster have {self._options['num_cpus']} CPU free per replica?)")
        for m in ray.get(ready):
            if m != self.measurement:
                raise PoolError(f"a replica measured {m.hex()}, not {self.measurement.hex()}")

    def _replace(self, slot: int) -> None:
        """Start a new replica in ``slot`` (its actor died)."""
        try:
            self._ray.kill(self._actors[slot], no_restart=True)
        except Exception:  # already gone
            pass
        self._actors[slot] = self._start()
        self._generation[slot] += 1
        self._outstanding[slot] = 0
        self._starting[slot] = self._actors[slot].ready.remote()
        self.restarts += 1

    @property
    def replicas(self) -> int:
        """Number of replicas."""
        return self._replicas

    @property
    def actors(self) -> list[Any]:
        """The replicas' Ray actor handles (a copy of the list; a dead replica is replaced)."""
        return list(self._actors)

    def _check_open(self) -> None:
        if self._closed:
            raise PoolError("the pool is closed")

    # --- running -----------------------------------------------------------------------------

    def _usable(self) -> list[int]:
        """Slots whose replica is known to be up; all slots if none is (work then queues at
        replacements still starting, rather than at one that might never start while others
        run)."""
        starting = [i for i, ref in enumerate(self._starting) if ref is not None]
        if starting:
            ready, _ = self._ray.wait([self._starting[i] for i in starting], num_returns=len(starting), timeout=0)
            done = set(ready)
            for i in starting:
                if self._starting[i] in done:
                    self._starting[i] = None
        up = [i for i, ref in enumerate(self._starting) if ref is None]
        return up or list(range(len(self._actors)))

    def _send(self, b: _Batch, inflight: dict[Any, _Batch]) -> None:
        slot = min(self._usable(), key=self._outstanding.__getitem__)
        b.slot, b.generation = slot, self._generation[slot]
        self._outstanding[slot] += 1
        inflight[self._actors[slot].run_packed.remote(b.inputs)] = b

    def map(self, inputs: Iterable[Union[bytes, bytearray, memoryview]]) -> Iterator[Result]:
        """Run every input (each in a fresh fork) and yield their :class:`Result`\\ s in input
        order. Inputs are read lazily, ``batch_size`` at a time, as results are consumed; an
        input that is not bytes, or longer than ``shm_size - 8``, raises TypeError/ValueError
        naming its index when its batch is formed. A batch whose replica dies is sent again
        (at most ``max_retries`` times, then :class:`PoolError`)."""
        self._check_open()
        ray = self._ray
        actor_died = ray.exceptions.RayActorError
        it = iter(inputs)
        max_len = self.shm_size - 8
        inflight: dict[Any, _Batch] = {}
        done: dict[int, list[Result]] = {}
        next_in = next_out = 0
        count = 0
        exhausted = False
        try:
            while True:
                window = self.max_in_flight * len(self._actors)
                while not exhausted and next_in - next_out < window:
                    chunk = list(itertools.islice(it, self.batch_size))
                    if not chunk:
                        exhausted = True
                        break
                    batch = check_inputs(chunk, count, max_len)
                    count += len(batch)
                    self._send(_Batch(next_in, batch), inflight)
                    next_in += 1
                if next_out in done:
                    results = done.pop(next_out)
                    next_out += 1
                    yield from results
                    continue
                if not inflight:
                    return
                ready, _ = ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    b = inflight.pop(ref)
                    try:
                        raw = ray.get(ref)
                    except actor_died:
                        self._retry(b, inflight)
                        continue
                    if self._generation[b.slot] == b.generation:
                        self._outstanding[b.slot] -= 1
                    done[b.index] = unpack(raw)
        finally:
            for b in inflight.values():  # abandoned: no longer counted against their replica
                if self._generation[b.slot] == b.generation and self._outstanding[b.slot] > 0:
                    self._outstanding[b.slot] -= 1

    def _retry(self, b: _Batch, inflight: dict[Any, _Batch]) -> None:
        if self._closed:
            raise PoolError("the pool was closed during map()")
        if self._generation[b.slot] == b.generation:
            self._replace(b.slot)
        b.attempts += 1
        if b.attempts > self.max_retries:
            raise PoolError(f"inputs {b.index * self.batch_size}..{b.index * self.batch_size + len(b.inputs) - 1}: "
                            f"their replica died {b.attempts} times (max_retries={self.max_retries})")
        self.retried_batches += 1
        self._send(b, inflight)

    def run(self, inputs: Iterable[Union[bytes, bytearray, memoryview]]) -> list[Result]:
        """``list(pool.map(inputs))``."""
        return list(self.map(inputs))

    def submit(self, data: Union[bytes, bytearray, memoryview]) -> Any:
        """Run one input on the next replica (round robin); a Ray ``ObjectRef`` of its
        :class:`Result` (``ray.get`` it). Not retried if the replica dies: use :meth:`map` for
        that."""
        self._check_open()
        b = check_inputs([data], 0, self.shm_size - 8, "input")[0]
        return self._actors[next(self._rr) % len(self._actors)].run.remote(b)

    def attest(self, nonce: int = 0) -> list[Report]:
        """Each replica's host attestation report of its template for ``nonce``, in replica
        order. Every report carries the same measurement (:attr:`measurement`); check them with
        :func:`pltvm.attest.verify` (``expected_measurement=pool.measurement, nonce=nonce``, and
        each node's device key where it is known)."""
        self._check_open()
        count_arg(nonce, "nonce", 0)
        return [Report.from_bytes(r) for r in self._ray.get([a.attest.remote(nonce) for a in self._actors])]

    def close(self) -> None:
        """Stop the replicas (their templates go with them). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for a in self._actors:
            try:
                self._ray.kill(a, no_restart=True)
            except Exception:  # already dead
                pass
        self._actors = []

    @property
    def closed(self) -> bool:
        """:meth:`close` was called."""
        return self._closed

    def __enter__(self) -> EnclavePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._actors)} replicas"
        return f"<pltvm.ray.EnclavePool {state}, shm_size={self.shm_size}, batch_size={self.batch_size}>"

