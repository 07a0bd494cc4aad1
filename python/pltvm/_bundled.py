"""Lookup of ELF files shipped inside the package (bundled programs and enclaves)."""

from __future__ import annotations

from pathlib import Path

_SUFFIX = ".elf"


class Bundle:
    """The ``<name>.elf`` files of one package directory."""

    def __init__(self, directory: Path, what: str) -> None:
        self._dir = directory.resolve()
        self._what = what

    def names(self) -> list[str]:
        """Names of the bundled files, sorted, without the ``.elf`` suffix."""
        return sorted(p.name[: -len(_SUFFIX)] for p in self._dir.glob("*" + _SUFFIX) if p.is_file())

    def path(self, name: str) -> Path:
        """Path of the bundled file ``name`` (with or without ``.elf``).

        Raises FileNotFoundError if there is none of that name.
        """
        base = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
        if not base or "/" in base or "\\" in base or base.startswith("."):
            raise FileNotFoundError(f"no bundled {self._what} named {name!r}")
        p = self._dir / (base + _SUFFIX)
        if not p.is_file():
            available = ", ".join(self.names()) or "none"
            raise FileNotFoundError(f"no bundled {self._what} named {name!r} (available: {available})")
        return p
