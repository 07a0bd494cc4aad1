"""EAPP_YIELD (enclave call 89) seen from each host: the Pythonic layer returns reason "yield"
and the next run continues; the C-API mirror resumes a yield like a timer exit (our fix of
Penglai's driver, which returns 3 and loses the enclave); `pltvm run` finishes; a fuzz target
that yields is not a finding. The bundled `yield` demo yields three times with a0 = 0x5e1d + i
and exits with the number of yields whose a0 came back changed."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import bundled

_core: Any = pytest.importorskip("pltvm._core")

import pltvm  # noqa: E402
from pltvm import cli  # noqa: E402
from pltvm import host as H  # noqa: E402
from pltvm.fuzz import Fuzzer  # noqa: E402

LINE = "yield: back from yield {}\n"


def test_run_returns_yield_and_the_next_run_continues_with_a0_unchanged() -> None:
    with pltvm.Device() as dev:
        e = dev.create("yield", output="capture")
        texts = []
        for i in range(3):
            r = e.run()
            assert (r.reason, r.yielded, r.finished, r.value) == ("yield", True, False, None)
            assert r.instret > 0
            assert e.state == "RUNNABLE", "a yielded enclave keeps its state and waits for the host"
            texts.append(r.output)
        r = e.run()
        assert (r.reason, r.value, r.yielded) == ("exit", 0, False), "every yield came back with a0 unchanged"
        texts.append(r.output)
        assert texts == [b"", LINE.format(1).encode(), LINE.format(2).encode(), LINE.format(3).encode()]
        assert not e.alive


def test_a_budget_bounds_each_run_and_instructions_add_up() -> None:
    with pltvm.Device() as dev:
        whole = 0
        e = dev.create("yield", output="capture")
        while (r := e.run()).reason == "yield":
            whole += r.instret
        whole += r.instret
        # One instruction short of the first yield's run: a budget result, then the yield.
        e = dev.create("yield", output="capture")
        first = dev.create("yield", output="capture").run().instret
        r = e.run(max_instructions=first - 1)
        assert (r.reason, r.instret) == ("budget", first - 1)
        r = e.run(max_instructions=1)
        assert (r.reason, r.instret) == ("yield", 1), "the yield is the first run's last instruction"
        total = first
        while (r := e.run()).reason == "yield":
            total += r.instret
        assert (r.reason, total + r.instret) == ("exit", whole)


def test_stop_and_destroy_a_yielded_enclave() -> None:
    with pltvm.Device() as dev:
        e = dev.create("yield", output="capture")
        assert e.run().reason == "yield"
        e.stop()
        assert e.state == "STOPPED"
        e.resume()
        assert e.run().reason == "yield"
        e.destroy()
        assert not e.alive
        with pytest.raises(pltvm.EnclaveDestroyed):
            e.run()


def test_the_c_api_driver_loop_resumes_a_yield_and_run_returns_0() -> None:
    elf = H.elf_args()
    H.elf_args_init(elf, str(bundled("yield")))
    e = H.PLenclave()
    params = H.enclave_args()
    assert H.PLenclave_init(e) == 0
    H.enclave_args_init(params)
    params.name = b"yielder"
    assert H.PLenclave_create(e, elf, params) == 0
    assert H.PLenclave_run(e) == 0, "not 3 (Penglai's driver would return 3 and lose the enclave)"
    assert e.user_param.retval == 0
    assert H.PLenclave_destruct(e) == 0
    H.elf_args_destroy(elf)


def test_pltvm_run_of_a_yielding_demo_finishes(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["run", "yield"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out == "".join(LINE.format(i) for i in (1, 2, 3)) + "host: PLenclave run is finish \n" + \
        "host: after exit the thread\n"


def test_a_fuzz_target_that_yields_is_not_a_finding() -> None:
    fz = Fuzzer(bundled("yield"), deferred=False, max_instructions=1_000_000)
    r = fz.run_one(b"x")
    assert (r.outcome, r.retval) == ("ok", 0)
    assert r.output == b"".join(LINE.format(i).encode() for i in (1, 2, 3))
    # The yields are continued within the budget: a budget that ends before the exit is a
    # timeout, not a crash.
    short = Fuzzer(bundled("yield"), deferred=False, max_instructions=r.instructions - 1).run_one(b"x")
    assert (short.outcome, short.instructions) == ("timeout", r.instructions - 1)


def test_a_ray_replica_runs_a_yielding_input_to_its_end() -> None:
    from pltvm.ray.runner import Replica  # imports no Ray

    ok = Replica("yield", max_instructions=1_000_000).run(b"")
    assert (ok.outcome, ok.reason, ok.value) == ("ok", "exit", 0), "a yield is no crash"
    assert ok.output == b"".join(LINE.format(i).encode() for i in (1, 2, 3))
    short = Replica("yield", max_instructions=ok.instructions - 1).run(b"")
    assert (short.outcome, short.reason, short.instructions) == ("timeout", "budget", ok.instructions - 1)
