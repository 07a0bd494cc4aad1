"""Programs bundled with pltvm (``python/pltvm/programs/<name>.elf``).

``pltvm exec hello`` runs the bundled ``hello`` when no file of that name exists.
"""

from __future__ import annotations

from pathlib import Path

from .._bundled import Bundle

__all__ = ["path", "names"]

_BUNDLE = Bundle(Path(__file__).parent, "program")


def names() -> list[str]:
    """Names of the bundled programs, sorted (without the ``.elf`` suffix)."""
    return _BUNDLE.names()


def path(name: str) -> Path:
    """Path of the bundled program ``name`` (``"hello"`` or ``"hello.elf"``).

    Raises FileNotFoundError if there is no such bundled program.
    """
    return _BUNDLE.path(name)
