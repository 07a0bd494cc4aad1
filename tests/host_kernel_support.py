"""Running the bundled S-mode host kernel (guest/system/host-kernel) in the system machine.

The kernel reads its command from the 64-byte section ``.host_command`` (docs/host-kernel.md);
:func:`kernel_with` writes a copy of the bundled ELF with that section patched. Each run is a
subprocess (the system machine's console is the process's stdout) that loads the ELF into
``pltvm.Machine.system(ram_size=..., secure_memory=...)`` and exits with the machine's exit
code (the SRST reason); ``tests/test_host_kernel.py`` also runs it through
``pltvm exec --system``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from elftools.elf.elffile import ELFFile

REPO = Path(__file__).resolve().parent.parent
KERNEL = REPO / "python" / "pltvm" / "programs" / "host-kernel.elf"
COMMAND_SECTION = ".host_command"
COMMAND_SIZE = 64

# The kernel's trap handler prints this line and exits with TRAP_EXIT + cause.
TRAP_RE = re.compile(r"^host-kernel: trap cause=(\d+) tval=0x([0-9a-f]{16}) sepc=0x([0-9a-f]{16})$",
                     re.MULTILINE)
TRAP_EXIT = 100
RESULT_RE = re.compile(r"^host-kernel: ([\w.]+) = (.*)$", re.MULTILINE)

# The kernel's memory plan (guest/system/host-kernel/memory.c).
MONITOR_BASE = 0x8000_0000
PT_BASE = 0x8040_0000
PT_SIZE = 0x10_0000
PGD_ROOT = PT_BASE + 0x1000
PMD_BASE = PT_BASE + 0x2000
PTE_BASE = PT_BASE + 0x6000
BITMAP_BASE = 0x8060_0000
FIRST_BLOCK = 0x8080_0000
ALIAS_VA = 0x4000_0000


def kernel_with(command: str, directory: Path) -> Path:
    """A copy of the bundled host kernel whose ``.host_command`` holds ``command``."""
    raw = command.encode()
    if len(raw) >= COMMAND_SIZE:
        raise ValueError(f"command longer than {COMMAND_SIZE - 1} bytes")
    data = bytearray(KERNEL.read_bytes())
    with KERNEL.open("rb") as f:
        sec = ELFFile(f).get_section_by_name(COMMAND_SECTION)
        assert sec is not None and sec["sh_size"] == COMMAND_SIZE
        off = sec["sh_offset"]
    data[off:off + COMMAND_SIZE] = raw.ljust(COMMAND_SIZE, b"\0")
    out = directory / f"host-kernel-{command}.elf"
    out.write_bytes(bytes(data))
    return out


@dataclass
class Run:
    """One finished run: exit status, console text, pltvm's stderr."""

    status: int
    out: str
    err: str

    def results(self) -> dict[str, str]:
        """``host-kernel: <name> = <value>`` lines as a dict (later lines win)."""
        return {m.group(1): m.group(2) for m in RESULT_RE.finditer(self.out)}

    def value(self, name: str) -> str:
        """The printed value of ``name``; fails the test with the whole output if it is missing."""
        res = self.results()
        assert name in res, f"{name!r} not printed; output:\n{self.out}\nstderr:\n{self.err}"
        return res[name]

    def number(self, name: str) -> int:
        """A printed decimal or 0x-hex value as an int."""
        v = self.value(name)
        return int(v, 16) if v.startswith("0x") else int(v)

    def trap(self) -> Optional[tuple[int, int, int]]:
        """(cause, tval, sepc) of the trap line, or None."""
        m = TRAP_RE.search(self.out)
        return None if m is None else (int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16))


# Exit status of the runner when the machine stopped without SRST (fault / budget).
NO_EXIT = 255
MAX_INSTRUCTIONS = 2_000_000_000

_RUNNER = r"""
import sys
import pltvm
ram, secure, budget, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
m = pltvm.Machine.system(ram_size=ram, secure_memory=secure)
m.load_elf(path)
ex = m.run(budget)
sys.stdout.flush()
if ex.reason == "exit":
    sys.exit(ex.code & 0xff)
sys.stderr.write(f"machine stopped: {ex}\n")
sys.exit(%d)
""" % NO_EXIT


def run_kernel(path: Path, *, ram_size: int = 256 << 20, secure_memory: int = 1 << 30,
               timeout: float = 300) -> Run:
    """Run the S-mode ELF at ``path`` on a fresh system machine in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(ram_size), str(secure_memory),
         str(MAX_INSTRUCTIONS), str(path)],
        capture_output=True, text=True, timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_command(command: str, directory: Path, **machine: int) -> Run:
    """Run the host kernel with ``command`` patched in (``ram_size``, ``secure_memory``)."""
    return run_kernel(kernel_with(command, directory), **machine)
