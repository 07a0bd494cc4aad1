"""Smoke test of an installed pltvm: run by .ci/wheel with the venv the wheel was installed in,
from a directory outside the checkout, so everything comes from the wheel.

Checks the parts a wheel can get wrong: the native module loads and is the installed one, the
bundled ELFs are in the package, the enclave path and the machine path run, the console script
works, and the attestation chain verifies (the runtime dependency `cryptography` plus SM2 in
the native module). Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"smoke: FAILED: {what}")


def main() -> None:
    import pltvm
    from pltvm import _core, enclaves, programs

    native = Path(_core.__file__).resolve()
    check("site-packages" in native.parts, f"pltvm._core comes from {native}, not an installed wheel")
    check(pltvm.__version__ == _core.__version__, "package and native module versions differ")
    check({"hello-world", "relay-page"} <= set(enclaves.names()), f"bundled enclaves: {enclaves.names()}")
    check("hello" in programs.names(), f"bundled programs: {programs.names()}")

    # An enclave, a relay-page round trip and a fork, through the Pythonic API.
    with pltvm.Device(secure_memory="64M") as dev:
        r = dev.create("hello-world").run(output="capture")
        check(r.reason == "exit" and r.value == 0, f"hello-world ended with {r}")
        check(r.output == b"hello world!\n", f"hello-world printed {r.output!r}")

        with dev.create("relay-page", shm=4096) as e:
            r = e.run(relay=(22222).to_bytes(4, "little"), output="capture")
            check(r.relay_returned, f"relay-page did not return its relay page: {r}")
            e.relay[:4] = bytes(4)
            r = e.resume_relay(output="capture")
        check(r.reason == "exit", f"relay-page ended with {r}")

        shadow = dev.create_shadow("hello-world")
        r = shadow.fork().run(output="capture")
        check(r.reason == "exit" and r.output == b"hello world!\n", f"fork instance: {r}")

    # A static Linux program on the user machine.
    m = pltvm.Machine.user(argv=["hello", "smoke"], env={})
    m.load_elf(programs.path("hello"))
    ex = m.run(max_instructions=10_000_000)
    check(ex.reason == "exit" and ex.code == 0, f"Machine.user hello: {ex}")

    # The console script the wheel installs, next to this interpreter.
    pltvm_cmd = Path(sys.executable).with_name("pltvm")
    out = subprocess.run([str(pltvm_cmd), "exec", "hello", "x"], capture_output=True, check=False)
    check(out.returncode == 0, f"pltvm exec hello: status {out.returncode}, {out.stderr!r}")
    check(out.stdout == b"Hello, world from pltvm!\nargc = 2\nargv[1] = x\n", f"pltvm exec printed {out.stdout!r}")

    # Attestation with the documented test keys (nothing written to the home directory).
    os.environ["PLTVM_TEST_KEYS"] = "1"
    with pltvm.Device() as dev:
        report = dev.create("hello-world").attest(nonce=0x1234)
    v = pltvm.attest.verify(bytes(report), nonce=0x1234,
                            expected_measurement=pltvm.measure(enclaves.path("hello-world")),
                            device_public_key=pltvm.attest.local_device_public_key())
    check(v.nonce == 0x1234, "attestation: verify returned the wrong nonce")
    print(f"smoke: ok (pltvm {pltvm.__version__}, {native.name})")


if __name__ == "__main__":
    main()
