"""pltvm: Penglai-TVM RISC-V enclaves on any machine.

The main entry point is :class:`Machine`::

    import pltvm
    m = pltvm.Machine.bare(ram_size=64 << 20)
    m.load_elf("test.elf")
    ex = m.run(max_instructions=10_000_000)

Importing :mod:`pltvm` is cheap: the native module and pyelftools are loaded on first use of
:class:`Machine`, :class:`Exit` or ``__version__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import programs
from .errors import AttestationError, ElfError, PltvmError
from .errors import EnclaveDestroyed, EnclaveError, EnclaveFault, InvalidEnclave, SecureMemoryExhausted

if TYPE_CHECKING:
    from . import host
    from .machine import Exit, Machine
    from .device import Device, Enclave, Fault, RunResult
    from . import attest
    from .attest import measure
    from .shadow import ShadowEnclave

    __version__: str

__all__ = ["Machine", "Exit", "ElfError", "PltvmError", "programs", "host", "__version__"]
__all__ += ["Device", "Enclave", "RunResult", "Fault", "EnclaveError", "EnclaveFault", "EnclaveDestroyed",
            "SecureMemoryExhausted", "InvalidEnclave"]
__all__ += ["attest", "measure", "AttestationError"]
__all__ += ["ShadowEnclave"]


def __getattr__(name: str) -> Any:
    """Load the native parts lazily (PEP 562)."""
    if name in ("Machine", "Exit"):
        from . import machine

        value = getattr(machine, name)
    elif name in ("Device", "Enclave", "RunResult", "Fault"):
        from . import device

        value = getattr(device, name)
    elif name in ("host", "attest"):
        import importlib

        value = importlib.import_module("." + name, __name__)
    elif name == "ShadowEnclave":
        from .shadow import ShadowEnclave as value
    elif name == "measure":
        from .attest import measure as value
    elif name == "__version__":
        from . import _core

        value = _core.__version__
    else:
        raise AttributeError(f"module 'pltvm' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
