"""pltvm on Ray: enclave pools and fuzz campaigns across processes and machines.

Needs the ``ray`` extra (``pip install "pltvm[ray]"``); importing this package does not import
Ray, the first pool or campaign does (and raises :class:`RayNotInstalled` with the install hint
if Ray is missing). Nothing else in pltvm imports it.

* :class:`EnclavePool` — replicas of one enclave as Ray actors; ``pool.map(inputs)`` runs each
  input in a fresh copy-on-write fork (input in the shm as for :mod:`pltvm.fuzz`) and yields the
  results in order; ``pool.attest(nonce)`` gives every replica's report.
* Distributed fuzzing — ``Fuzzer(...).run(..., jobs=N, ray="auto")`` or
  ``pltvm fuzz ELF CORPUS -jobs=N -ray=auto``: N LibAFL campaigns as Ray actors, run in slices,
  sharing new corpus entries through the driver (:func:`pltvm.ray.fuzz.run_campaign`).

Example::

    import pltvm.ray

    with pltvm.ray.EnclavePool("fuzz-parser", replicas=2) as pool:
        for r in pool.map([b"V\\x01\\x01", b"V\\x01\\x02N\\x03abc"]):
            print(r.outcome, r.value, r.output, r.fault)

See docs/ray.md.
"""

from __future__ import annotations

from .cluster import RayClusterError, RayNotInstalled, connect
from .pool import EnclavePool, PoolError
from .runner import Replica, Result

__all__ = ["EnclavePool", "Result", "Replica", "PoolError", "RayClusterError", "RayNotInstalled", "connect"]
