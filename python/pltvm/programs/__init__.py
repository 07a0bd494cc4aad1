"""Programs bundled with pltvm (``python/pltvm/programs/<name>.elf``).

``pltvm exec hello`` runs the bundled ``hello`` when no file of that name exists.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["path", "names"]

_DIR = Path(__file__).resolve().parent
_SUFFIX = ".elf"


def names() -> list[str]:
    """Names of the bundled programs, sorted (without the ``.elf`` suffix)."""
    return sorted(p.name[: -len(_SUFFIX)] for p in _DIR.glob("*" + _SUFFIX) if p.is_file())


def path(name: str) -> Path:
    """Path of the bundled program ``name`` (``"hello"`` or ``"hello.elf"``).

    Raises FileNotFoundError if there is no such bundled program.
    """
    base = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    if not base or "/" in base or "\\" in base or base.startswith("."):
        raise FileNotFoundError(f"no bundled program named {name!r}")
    p = _DIR / (base + _SUFFIX)
    if not p.is_file():
        available = ", ".join(names()) or "none"
        raise FileNotFoundError(f"no bundled program named {name!r} (available: {available})")
    return p
