"""Type stubs for the native module ``pltvm._core`` (built from ``rust/python``).

This module is private: use ``pltvm.Machine`` and friends. The stub is kept by hand and checked
by ``python -m mypy.stubtest`` in the test suite.
"""
from os import PathLike
from typing import Any, Callable, Optional, Union, final

__all__ = [
    "Enclave",
    "Exit",
    "FuzzTarget",
    "LimitError",
    "Machine",
    "Monitor",
    "RunResult",
    "default_keys",
    "gdb_serve",
    "gdb_serve_enclave",
    "gdb_serve_fuzz",
    "hkdf_sha256",
    "jit_stats",
    "measure_elf",
    "parse_private_key",
    "private_key_pem",
    "sm2_public_key",
    "sm2_sign",
    "sm2_verify",
    "sm3",
    "test_keys",
]

__version__: str

class LimitError(ValueError):
    """A size or address argument is beyond a limit of the monitor or the ABI (the relay pool,
    the enclave's address space, the page tables of its block); the message names it."""

@final
class Exit:
    """Why a run stopped."""

    reason: str
    """``"exit"`` (guest asked to exit), ``"budget"`` (instruction budget used up),
    ``"fault"`` (a trap the machine has nobody to deliver to: any trap of a user machine
    other than a syscall)."""
    code: Optional[int]
    """Exit code for ``"exit"`` (HTIF value >> 1, or the ``exit`` syscall argument)."""
    pc: int
    cause: Optional[int]
    """``mcause`` value for ``"fault"``."""
    tval: Optional[int]
    """``mtval`` value for ``"fault"``."""
    instret: int
    """Instructions retired during this run."""

@final
class Machine:
    """One RV64 hart with its memory and devices."""

    @staticmethod
    def bare(ram_size: int, misaligned: str) -> Machine:
        """M-mode machine, RAM at 0x8000_0000, CLINT, HTIF. ``misaligned``: "emulate" | "trap"."""
    @staticmethod
    def user(misaligned: str) -> Machine:
        """U-mode machine whose ecalls are Linux syscalls serviced by the host."""
    @staticmethod
    def system(ram_size: int, secure_memory: int) -> Machine:
        """S-mode host kernel under the Rust monitor: SBI, PMP, guarded page table."""
    @property
    def engine(self) -> str:
        """``"interp"`` (interpreter only) or ``"jit"`` (hot blocks compiled)."""
    @engine.setter
    def engine(self, engine: str) -> None: ...
    @property
    def kind(self) -> str: ...
    @property
    def ram_base(self) -> int: ...
    @property
    def ram_size(self) -> int: ...
    def load_segment(self, vaddr: int, data: bytes, memsz: int) -> None:
        """Copy ``data`` to ``vaddr`` and zero-fill up to ``memsz``. Bare: must lie in RAM.
        User: maps the pages. Raises ValueError when it cannot."""
    def set_htif(self, tohost: int, fromhost: Optional[int]) -> None: ...
    def setup_stack(
        self, argv: list[bytes], envp: list[bytes], auxv: list[tuple[int, int]]
    ) -> int:
        """User machine: build the Linux initial stack, set ``sp``; returns it. ``auxv`` entries
        whose value the machine supplies (AT_RANDOM, AT_EXECFN) are filled in by the machine."""
    def set_brk(self, addr: int) -> None:
        """User machine: the initial program break (end of the highest segment)."""
    pc: int
    @property
    def instret(self) -> int: ...
    def get_x(self, i: int) -> int: ...
    def set_x(self, i: int, value: int) -> None: ...
    def csr_read(self, number: int) -> int:
        """Read a CSR as M-mode software would, without side effects. KeyError if absent."""
    def csr_write(self, number: int, value: int) -> None:
        """Write a CSR as M-mode software would (WARL rules apply). KeyError if absent."""
    def mem_read(self, addr: int, n: int) -> bytes:
        """Physical memory. ValueError if any byte is not backed (checked before anything is
        allocated)."""
    def mem_write(self, addr: int, data: bytes) -> None: ...
    def run(self, max_instructions: Optional[int] = None) -> Exit:
        """Run until exit, fault, halt or budget. Releases the GIL; Ctrl-C stops the run
        between slices and raises KeyboardInterrupt."""

# ---- Penglai-TVM monitor model (rust/python/src/monitor.rs) ----

@final
class RunResult:
    """How an enclave run ended."""

    reason: str
    """``"exit"`` (EAPP_RETURN; enclave gone), ``"relay"`` (OCALL_RETURN_RELAY_PAGE; re-run
    with ``entry="rerun_relay"``), ``"fault"`` (exception, unknown enclave call or non-Penglai
    ecall; enclave destroyed), ``"destroyed"`` (destroyed by the host during the run),
    ``"ocall"`` (an OCALL id registered with ``set_user_ocalls``; answer with
    ``entry="ocall_return"``), ``"budget"`` (``budget`` used; ``entry="continue"``),
    ``"yield"`` (EAPP_YIELD, also inside a server it called; ``entry="continue"`` goes on with
    ``a0`` unchanged), ``"interrupted"`` (not returned: the pending exception is raised instead), ``"aborted"``
    (not returned: the output callable's exception is raised; enclave destroyed),
    ``"refused"`` (the monitor refused the run; ``message`` says why; nothing changed)."""
    retval: Optional[int]
    """EAPP_RETURN value (``"exit"``)."""
    cause: Optional[int]
    """``mcause`` (``"fault"``); 8 for a refused ecall."""
    tval: Optional[int]
    pc: Optional[int]
    """pc of the faulting instruction (``"fault"``)."""
    syscall: Optional[int]
    """``a7`` of an ecall that destroyed the enclave (``"fault"``, cause 8)."""
    ocall_id: Optional[int]
    ocall_args: Optional[tuple[int, int, int]]
    """``a1..a3`` of a forwarded OCALL."""
    message: Optional[str]
    shm: Optional[bytes]
    """The enclave's host shm contents after the run (None without shm)."""
    relay: list[bytes]
    """Contents of relay regions handed back (relay return, exit, fault, destroy)."""
    instret: int
    """Instructions the enclave retired in this call (with those of the servers it called)."""
    calls: list[tuple[int, int, int, int, int]]
    """The ``call_enclave`` calls made during the run (nested ones too), in the order they
    ended: ``(caller eid, callee handle, result, resp_val, depth)``; result 0, -1 or -2 (busy),
    depth 1 for a call of the top enclave."""
    output: Optional[bytes]
    """What the enclave printed during the run with ``run(capture=True)``; else None."""

@final
class Enclave:
    """One enclave of a :class:`Monitor` (a handle; it stays valid after the enclave ends)."""

    @property
    def id(self) -> int:
        """Driver id (``user_param.eid``), in [0x1000, 0xFFFF)."""
    @property
    def eid(self) -> int:
        """Monitor eid (what ``get_enclave_id()`` returns inside)."""
    @property
    def name(self) -> bytes: ...
    @property
    def type(self) -> int: ...
    @property
    def state(self) -> str:
        """``"FRESH"``, ``"RUNNABLE"``, ``"RUNNING"``, ``"STOPPED"``, ``"OCALLING"``, ``"INVALID"``..."""
    @property
    def warnings(self) -> list[str]:
        """Loader warnings (pages mapped twice, NOBITS tail pages skipped)."""
    @property
    def measurement(self) -> bytes:
        """32-byte creation measurement (zeros until attestation is implemented)."""
    @property
    def pc(self) -> int: ...
    @property
    def instret(self) -> int: ...
    def get_x(self, i: int) -> int: ...
    def read(self, va: int, n: int) -> bytes:
        """Enclave virtual memory (through its page tables). ValueError if unmapped (checked
        before anything is allocated)."""
    def write(self, va: int, data: bytes) -> None: ...
    def set_user_ocalls(self, ids: list[int]) -> None:
        """OCALL ids (other than 1..12) that end a run with reason ``"ocall"``."""
    def stop(self) -> int:
        """0, or -1 if the enclave is not RUNNING/RUNNABLE/STOPPED."""
    def resume(self) -> int:
        """Wake a STOPPED enclave: 0 or -1."""
    def destroy(self) -> int:
        """0 or -1; a run in flight in another thread ends with ``"destroyed"``."""
    def forget(self) -> None:
        """The driver drops its id for the enclave (destroyed unless it is running)."""
    def attest(self, nonce: int) -> bytes:
        """Host attestation (fid 98): the signed 328-byte ``report_t``. RuntimeError if the
        enclave is not FRESH/STOPPED or no platform keys can be loaded."""
    @property
    def shadow_of(self) -> Optional[int]:
        """A fork instance: the driver id of its shadow template (``isShadow = 1``); else None."""
    @property
    def private_bytes(self) -> int:
        """Bytes of memory this enclave owns alone (frames not shared copy-on-write)."""
    @property
    def shared_bytes(self) -> int:
        """Bytes of memory shared copy-on-write with its template or siblings."""
    def fork(
        self,
        *,
        name: Optional[bytes] = None,
        shm: Optional[bytes] = None,
        persistency: Union[str, PathLike[str], None] = None,
    ) -> Enclave:
        """Fork a FRESH instance of this shadow template (type 2) in O(1), sharing its memory
        copy-on-write: own ids, fresh zero stack, own kbuffer, ``shm`` mapped. Run it with
        ``run()``. ValueError if this is not a live template; MemoryError if ``shm`` is larger
        than the secure pool; LimitError if it does not fit the instance."""
    def fork_default(self) -> Enclave:
        """``fork(name=next_fork_name())``: no shm, no persistency (the per-instance hot path)."""
    def next_fork_name(self) -> bytes:
        """The next default name for a fork of this template, ``fork<id hex>-<n>`` (n = 1, 2,
        ..., shared with ``fork_default``), cut to 16 bytes."""
    def snapshot(self, *, name: bytes = ..., ocall_result: int = 0, shm: Optional[bytes] = None) -> Enclave:
        """A shadow template of this enclave paused in a host OCALL: its forks are RUNNABLE and
        resume after the OCALL with ``a0 = ocall_result``; ``shm`` (exactly the shm's size)
        replaces the snapshot's shm contents. RuntimeError when the enclave is not paused in a
        host OCALL, is gone or busy, or holds relay regions; MemoryError when the pool is full."""
    @property
    def snapshot_pc(self) -> Optional[int]:
        """A snapshot template: the pc its forks resume at; else None."""
    @property
    def snapshot_source(self) -> Optional[int]:
        """A snapshot template: the driver id of the enclave it was taken of; else None."""
    def fork_run_destroy(
        self,
        n: int,
        *,
        name: bytes = ...,
        shm: Optional[bytes] = None,
        relay: Optional[bytes] = None,
    ) -> tuple[int, bytes]:
        """Fork, run to the end and destroy ``n`` instances of this template with the GIL
        released (Ctrl-C is looked at every 1024): (how many exited with EAPP_RETURN, their
        collected output). ``shm``/``relay`` sizes are checked first, as ``check_region``."""
    def run(
        self,
        entry: str = "start",
        *,
        relay: Optional[bytes] = None,
        shm: Optional[bytes] = None,
        budget: Optional[int] = None,
        output: Optional[Callable[[bytes], object]] = None,
        ocall_result: int = 0,
        capture: bool = False,
    ) -> RunResult:
        """Run on this thread with the GIL released. ``entry``: ``"start"`` (FRESH enclave;
        ``relay`` = contents of a relay region to map), ``"rerun_relay"`` (``relay`` = the
        region's contents now), ``"ocall_return"`` (``ocall_result`` -> a0), ``"continue"``,
        ``"start_inherit"`` (FRESH enclave; maps the relay regions other enclaves handed to its
        name with ``asyn_enclave_call``; refused when there are none).
        ``shm``: the host shm contents to copy in first. ``output``: called with the bytes the
        enclave prints (default: the process's stdout). ``capture=True``: the output is
        collected into ``RunResult.output`` instead (``output`` is not called)."""
    def run_capture(self) -> Union[tuple[int, bytes, int], RunResult]:
        """``run("start", capture=True)``; a run ending in EAPP_RETURN with no call records and
        no relay region comes back as ``(value as a signed 64-bit int, output, instret)``,
        anything else as the RunResult (``"refused"`` with nothing changed if not FRESH)."""

@final
class Monitor:
    """The Penglai-TVM secure monitor and enclave driver model: one secure-memory pool, one
    enclave table."""

    @staticmethod
    def new(
        secure_memory: int = ...,
        rng: str = "seeded",
        seed: int = 0,
        slice: int = ...,
        caller_id_compat: bool = False,
        engine: Optional[str] = None,
    ) -> Monitor:
        """A monitor with ``secure_memory`` bytes of secure memory (default 1 GiB).
        ``rng``: ``"seeded"`` (per-enclave deterministic generator from ``seed``),
        ``"penglai-lcg"`` (Penglai's global LCG) or ``"os"``. ``slice``: instructions between
        looks at stop/destroy requests. ``caller_id_compat``: get_caller_id returns 0 (B2).
        ``engine``: ``"interp"`` or ``"jit"``, for every enclave hart (None: ``"jit"`` on
        x86-64 and aarch64 hosts, ``"interp"`` elsewhere)."""
    @property
    def engine(self) -> str: ...
    @property
    def secure_memory(self) -> int: ...
    @property
    def secure_memory_used(self) -> int: ...
    @property
    def eapp_args(self) -> int:
        """The monitor-global run counter passed in a2 (B1)."""
    def ids(self) -> list[int]: ...
    def lookup(self, id: int) -> Optional[Enclave]: ...
    def create(
        self,
        elf: bytes,
        *,
        name: bytes = ...,
        type: int = ...,
        stack_size: int = 65536,
        shm: Optional[bytes] = None,
        persistency: Union[str, PathLike[str], None] = None,
    ) -> Enclave:
        """Create a normal enclave from ELF file bytes (name: up to 16 bytes, default empty;
        type: 0 normal, 1 server, 2 shadow).  ValueError: bad ELF or parameters;
        MemoryError: secure memory exhausted, or ``shm`` larger than the whole pool;
        LimitError: ``shm`` beyond the enclave's address space or its block's page tables;
        NotImplementedError: server types. Sizes are checked before anything is allocated."""
    def check_region(self, what: str, size: int) -> None:
        """Raise what ``create``/``fork``/``run`` would for a host region of ``size`` bytes,
        before the caller allocates it: ``what`` ``"shm"``: MemoryError if larger than the
        secure pool; ``"relay"``: LimitError if larger than the driver's relay pool (16 MiB)."""
    def create_shadow(self, elf: bytes, *, name: bytes = ...) -> Enclave:
        """A shadow template (``create(elf, type=2)``): no stack, kbuffer or shm; measured
        (image only); never runs; ``fork()`` it."""
    def stats(self) -> dict[str, int]:
        """Frame accounting: ``enclaves``, ``instances``, ``templates``, ``busy`` (being run,
        not counted below), ``frames_private``, ``frames_shared`` (per instance),
        ``frames_template``, ``frame_size``."""
    def secure_shm(self) -> list[tuple[int, int, list[tuple[int, int]], bool, int]]:
        """Secure shm segments (enclave-to-enclave shared memory), ascending by key:
        ``(key, size, users, destroying, block)``: ``size`` the bytes mapped in each attached
        enclave, ``users`` ``[(monitor eid, VA), ...]`` in attach order, ``destroying`` marked by
        SHM_DESTROY (freed with its last user), ``block`` bytes charged to the secure pool."""
    def set_keys(
        self, device_key: Optional[bytes] = None, sm_key: Optional[bytes] = None, *, test: bool = False
    ) -> None:
        """Platform keys for reports: SM2 private keys as 32 raw bytes, 64 hex digits or PEM;
        ``test=True``: the documented test keys. Default (never set): the per-user key store."""
    def platform(self) -> dict[str, Any]:
        """The filled platform block: ``dev_pub_key``, ``sm_pub_key``, ``sm_hash``,
        ``sm_signature`` (bytes), ``description`` (what ``sm_hash`` hashes), ``origin``."""
    def attest_hash(self, hash: bytes, nonce: int) -> bytes:
        """A signed report for a stored hash: ``enclave.hash = SM3(hash ‖ le64(nonce))``
        (fid 80, a shadow template)."""

def sm2_verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """SM2 (sm2p256v1) verification of ``r ‖ s`` over the 32-byte digest used directly as e
    (no Z_A); public key ``X ‖ Y``."""
def sm2_sign(private_key: bytes, digest: bytes) -> bytes:
    """SM2 signature ``r ‖ s`` over the 32-byte digest (e = digest, RFC 6979 k)."""
def sm2_public_key(private_key: bytes) -> bytes:
    """``X ‖ Y`` of a 32-byte private scalar."""
def parse_private_key(data: bytes) -> bytes:
    """A 32-byte private scalar from raw bytes, 64 hex digits or PEM (PKCS#8 / SEC1)."""
def private_key_pem(private_key: bytes) -> str:
    """PKCS#8 PEM of a 32-byte private scalar."""
def test_keys() -> tuple[bytes, bytes, str]:
    """The documented test keys: (device scalar, SM scalar, ``"test"``)."""
def measure_elf(
    elf: bytes, *, type: int = ..., stack_size: int = 0x10000, shm: Optional[bytes] = None, nonce: int = 0
) -> bytes:
    """The measurement the monitor stores when it creates this ELF (``type`` 0 normal, 1 server,
    2 shadow template), with ``nonce`` at the end of the stream; the exception ``Monitor.create``
    raises (ValueError, or its subclass LimitError, with the monitor's reason) if it would refuse
    the file or the parameters."""
def sm3(data: bytes) -> bytes:
    """SM3 with the monitor's implementation (the one the measurement stream uses)."""
def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 with the monitor's implementation (the one ``get_key`` uses); ``salt``
    empty: none; ``length`` at most 8160."""
def gdb_serve(
    machine: Machine, host: str, port: int, ready: Optional[Callable[[int], object]] = None
) -> tuple[str, Optional[int]]:
    """Listen on ``host:port`` (0: any free port), call ``ready(port)``, serve one gdb session
    and return ``("exited", code)``, ``("detached", None)`` or ``("killed", None)``. The GIL is
    released; Ctrl-C raises KeyboardInterrupt."""
def gdb_serve_enclave(
    enclave: Enclave,
    host: str,
    port: int,
    entry: str,
    ready: Optional[Callable[[int], object]] = None,
    ocall: Optional[Callable[[int, int, int, int], int]] = None,
) -> tuple[str, Optional[int]]:
    """``gdb_serve`` for one enclave: ``entry`` "start" (FRESH) or "continue"; output to
    stdout; host OCALLs call ``ocall(id, a1, a2, a3)``. Returns ``("exited", value)``,
    ``("fault", None)``, ``("detached", None)`` or ``("killed", None)``."""
def gdb_serve_fuzz(
    target: FuzzTarget, data: bytes, host: str, port: int, ready: Optional[Callable[[int], object]] = None
) -> tuple[str, Optional[int], Optional[tuple[int, int, int]], bool]:
    """``gdb_serve`` for one input of a fuzz target, set up as an execution sets it up (budget:
    one SIGXCPU stop; a fault stops at the faulting instruction). Returns ``(outcome, value,
    fault, timed_out)``: ``("exited", value, None, _)``, ``("fault", None, (cause, pc, tval), _)``,
    ``("detached", None, None, _)`` or ``("killed", None, None, _)``."""
def jit_stats() -> tuple[int, int, int, int]:
    """The compiling tier's figures for this process since start: (blocks compiled, guest
    instructions in them, nanoseconds spent compiling, blocks that reused code compiled for the
    same instructions)."""
def default_keys() -> tuple[bytes, bytes, str]:
    """The default keys (``PLTVM_TEST_KEYS=1``: the test keys; else the per-user key file,
    created on first use): (device scalar, SM scalar, origin)."""

_Fault = tuple[int, int, int, Optional[tuple[int, int]]]

@final
class FuzzTarget:
    """The fuzzing engine (crate pltvm-fuzz) behind ``pltvm.fuzz``: an enclave ELF made a
    shadow template; inputs of at most ``max_len`` bytes, runs of at most ``max_instructions``
    instructions, an edge map of ``map_size`` entries (a power of two)."""
    def __new__(
        cls,
        elf: bytes,
        *,
        max_len: int,
        max_instructions: int,
        map_size: int = 65536,
        deferred: bool = True,
        max_init_instructions: Optional[int] = None,
        engine: Optional[str] = None,
    ) -> FuzzTarget: ...
    @property
    def shm_size(self) -> int: ...
    @property
    def deferred(self) -> bool:
        """Executions fork the deferred snapshot (the target called ``pl_fuzz_input``)."""
    @property
    def init(self) -> Optional[tuple[int, bytes, Optional[tuple[str, Optional[int], Optional[_Fault]]]]]:
        """The initialisation run (None when ``deferred`` was false): (instructions, output,
        how it ended as (kind, retval, fault), or None when it paused in ``pl_fuzz_input``)."""
    def run_one(self, data: bytes) -> tuple[str, Optional[int], Optional[_Fault], bytes, int, int]:
        """(kind, retval, fault, output, instructions, edges hit) of one run in a fresh fork."""
    def fuzz(
        self,
        seeds: list[bytes],
        *,
        seed: int,
        jobs: int,
        cmplog: bool,
        tokens: list[bytes],
        runs: Optional[int],
        max_total_time: Optional[float],
        stop_on_finding: bool,
        pulse: float,
        on_event: Optional[Callable[[str, dict[str, Any], Any], object]] = None,
        check: Optional[Callable[[str, Optional[int], bytes, bytes], object]] = None,
    ) -> dict[str, Any]:
        """A campaign; see ``pltvm.fuzz.Fuzzer.run``."""
