"""Demo enclaves bundled with pltvm (``python/pltvm/enclaves/<name>.elf``), built from
``guest/demos/`` by ``make -C guest``: hello-world, mem, loop, relay-page, crash, info.
"""

from __future__ import annotations

from pathlib import Path

from .._bundled import Bundle

__all__ = ["path", "names"]

_BUNDLE = Bundle(Path(__file__).parent, "enclave")


def names() -> list[str]:
    """Names of the bundled enclaves, sorted (without the ``.elf`` suffix)."""
    return _BUNDLE.names()


def path(name: str) -> Path:
    """Path of the bundled enclave ``name`` (``"hello-world"`` or ``"hello-world.elf"``).

    Raises FileNotFoundError if there is no such bundled enclave.
    """
    return _BUNDLE.path(name)
