"""Exception hierarchy of pltvm.

Every error that pltvm raises on purpose derives from :class:`PltvmError`, so callers can catch
one class. Plain programming mistakes (wrong argument types, out-of-range register numbers)
still raise the usual built-in exceptions (``TypeError``, ``ValueError``, ``IndexError``).
"""

from __future__ import annotations

__all__ = ["PltvmError", "ElfError"]


class PltvmError(Exception):
    """Base class of the errors raised by pltvm."""


class ElfError(PltvmError):
    """An ELF file cannot be loaded: unreadable, malformed, or unsuitable for the machine.

    The message names the file and the problem, e.g.
    ``"prog.elf: 32-bit ELF (ELFCLASS32); only RV64 (ELFCLASS64) is supported"``.
    """
