"""Type stubs for the native module ``pltvm._core`` (built from ``rust/python``).

This module is private: use ``pltvm.Machine`` and friends. The stub is kept by hand and checked
by ``python -m mypy.stubtest`` in the test suite.
"""
from typing import Optional, final

__all__ = ["Exit", "Machine"]

__version__: str

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
        """Physical memory. ValueError if any byte is not backed."""
    def mem_write(self, addr: int, data: bytes) -> None: ...
    def run(self, max_instructions: Optional[int] = None) -> Exit:
        """Run until exit, fault, halt or budget. Releases the GIL; Ctrl-C stops the run
        between slices and raises KeyboardInterrupt."""
