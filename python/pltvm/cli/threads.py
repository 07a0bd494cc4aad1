"""The threads of ``pltvm run`` and ``pltvm fork-host``, and what Ctrl-C does to them.

The SDK's host demos are pthreads programs; here each of their threads is a Python thread running
the C-API mirror (:mod:`pltvm.host`). Ctrl-C must end such a program cleanly, whenever it comes:
exit status 130, ``pltvm: interrupted`` as the last line, every enclave destroyed and every thread
ended. What makes that hard is the interpreter more than the enclaves:

* KeyboardInterrupt is raised in the main thread wherever it happens to be, for example inside
  ``Thread.start()`` after the new thread is already running, inside ``join()``, or inside an
  import, where Python 3.11 turns it into a RuntimeError if a class is being created. So from the
  start of the command on, SIGINT only sets a flag (:class:`DeferredSigint`), which the main
  thread looks at between its steps and polls while it waits for the threads.
* A thread still inside an enclave run when the interpreter finalises calls back into Python
  (enclave output) or takes the GIL back when the run returns, and the process aborts. So the
  threads are not daemons, and the main thread never goes on before all of them have ended:
  after Ctrl-C it stops and destroys the enclaves (a run ends at its next time slice), again until
  every thread is back, since a thread may still create or fork an enclave after a sweep.
* Output: ``pltvm: interrupted`` is written after every thread has ended, so nothing a thread or
  an enclave prints can come after it.

A second Ctrl-C while the enclaves are being destroyed ends the process at once (status 130),
without finalising the interpreter.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable, Optional, Sequence

__all__ = ["run_threads", "DeferredSigint", "report_interrupted", "EXIT_INTERRUPTED", "INTERRUPTED"]

from .common import EXIT_INTERRUPTED
INTERRUPTED = "pltvm: interrupted\n"
POLL = 0.05
"""Seconds between the main thread's looks at the Ctrl-C flag while it waits."""

Job = tuple[Callable[..., bool], tuple[Any, ...]]


def report_interrupted() -> int:
    """Write ``pltvm: interrupted`` (the last line of an interrupted command); its status."""
    sys.stdout.flush()
    sys.stderr.write(INTERRUPTED)
    sys.stderr.flush()
    return EXIT_INTERRUPTED


def run_threads(name: str, jobs: Sequence[Job], stop: threading.Event, device: Callable[[], Any],
                sigint: Optional[DeferredSigint] = None) -> Optional[list[bool]]:
    """Run each job ``(function, args)`` in its own thread and wait for all of them.

    Returns the functions' results (true: the thread reported no error), or None after Ctrl-C: then
    ``stop`` was set for the jobs to look at, every enclave of ``device()`` has been destroyed,
    every thread has ended and ``pltvm: interrupted`` has been written to stderr. ``sigint`` is the
    command's :class:`DeferredSigint` (None: one for the time of this call). An exception a job
    raised is raised here once all threads have ended (e.g. BrokenPipeError when stdout is a
    closed pipe)."""
    if sigint is None:
        with DeferredSigint() as own:
            return run_threads(name, jobs, stop, device, own)
    workers = _Workers(name, jobs)
    try:
        workers.start(sigint)
        finished = workers.wait(sigint)
    except BaseException:
        stop.set()
        sigint.cleaning = True
        workers.end(device())
        raise
    if not finished:
        stop.set()
        sigint.cleaning = True
        workers.end(device())
        report_interrupted()
        return None
    if workers.errors:
        raise workers.errors[0]
    return [bool(r) for r in workers.results]


class DeferredSigint:
    """For the time of a ``with`` block (in the main thread), SIGINT sets a flag instead of
    raising KeyboardInterrupt; calling the object tells whether Ctrl-C came. Elsewhere than in
    the main thread nothing is installed: signals are only ever handled by the main thread. Once
    ``cleaning`` is set (the enclaves are being destroyed), a second Ctrl-C ends the process at
    once."""

    def __init__(self) -> None:
        self.count = 0
        self.cleaning = False
        self.installed = False
        self.previous: Any = signal.SIG_DFL

    def __call__(self) -> bool:
        return self.count > 0

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        # Runs in the main thread between two bytecodes, maybe inside a lock-protected section of
        # threading (Event.wait, Thread.start) or an import: it must take no lock, so it counts.
        self.count += 1
        if self.count > 1 and self.cleaning:
            os.write(2, INTERRUPTED.encode())
            os._exit(EXIT_INTERRUPTED)

    def __enter__(self) -> DeferredSigint:
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, self._handler)
            self.previous = previous if previous is not None else signal.SIG_DFL
            self.installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)


class _Workers:
    """The demo's pthreads as non-daemon Python threads."""

    def __init__(self, name: str, jobs: Sequence[Job]) -> None:
        self.name = name
        self.jobs = list(jobs)
        self.threads: list[threading.Thread] = []
        self.results: list[Optional[bool]] = [None] * len(self.jobs)
        self.errors: list[BaseException] = []

    def _run(self, i: int, target: Callable[..., bool], args: tuple[Any, ...]) -> None:
        try:
            self.results[i] = target(*args)
        except BaseException as e:  # handed to the main thread, which raises it when all ended
            self.results[i] = False
            self.errors.append(e)

    def start(self, interrupted: Callable[[], bool]) -> None:
        """Start the threads in order; none after Ctrl-C."""
        for i, (target, args) in enumerate(self.jobs):
            if interrupted():
                return
            t = threading.Thread(target=self._run, args=(i, target, args), name=f"{self.name}-{i + 1}")
            t.start()
            self.threads.append(t)

    def wait(self, interrupted: Callable[[], bool]) -> bool:
        """Until every thread has ended (True) or Ctrl-C came (False)."""
        for t in self.threads:
            while t.is_alive():
                if interrupted():
                    return False
                t.join(POLL)
        return not interrupted()

    def end(self, device: Any) -> None:
        """After Ctrl-C (the jobs' stop event is set): destroy the device's enclaves until every
        thread has ended, then once more for an enclave a thread left behind (one waiting for its
        host to re-run it after returning its relay page, say)."""
        while True:
            _destroy_all(device)
            alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                break
            alive[0].join(POLL)
        _destroy_all(device)
        for t in self.threads:
            t.join()


def _destroy_all(device: Any) -> None:
    """Destroy every enclave of ``device`` (a :class:`pltvm.host.Device`). Running enclaves are
    stopped first: each run parks at its next time slice, so the destroys that follow, which wait
    for the run to end, do not compete with hundreds of spinning enclaves for the CPUs."""
    monitor = device.monitor
    enclaves = [e for e in map(monitor.lookup, monitor.ids()) if e is not None]
    for e in enclaves:
        e.stop()
    for e in enclaves:
        e.destroy()
