"""Shadow enclaves (fids 86/87/80/79), server enclaves (90/89) and relay pages from the bundled
S-mode host kernel on the system machine (docs/system-mode.md, docs/host-kernel.md).

The positive paths are the kernel commands ``shadow``, ``server``, ``relay`` and
``relay-fork`` (guest/system/host-kernel/kinds.c); the attacks are ``attack-shadow``,
``attack-server`` and ``attack-relay`` (kinds_attacks.c), which pass secure frames, the
monitor / PT / bitmap regions, straddling parameter blocks, hostile sizes and wrong ids to each
new call, then check that the good call still works and end with a load from secure memory
through the kernel's old mapping (page fault 13, exit 113).
"""

from __future__ import annotations

from pathlib import Path

import pltvm
import pytest
from host_kernel_support import TRAP_EXIT, Run, run_command

PAGE = 0x1000
LOAD_PAGE_FAULT = 13
# The kernel hands out 2 MiB blocks from here (memory.c); the attack commands use the first
# one as a split pad, the second as the donated (secure) block, the third for the victim.
FIRST_BLOCK = 0x8080_0000
THIRD_BLOCK = FIRST_BLOCK + 2 * 0x20_0000


def values(run: Run, expected: dict[str, str]) -> None:
    got = {k: run.value(k) for k in expected}
    assert got == expected, run.out + run.err


def trapped(run: Run, tval: int) -> None:
    assert "ATTACK SUCCEEDED" not in run.out, run.out
    t = run.trap()
    assert t is not None and t[:2] == (LOAD_PAGE_FAULT, tval), run.out + run.err
    assert run.status == TRAP_EXIT + LOAD_PAGE_FAULT


# ---- shadow enclaves ---------------------------------------------------------------------------

def test_shadow_template_forks_instances_through_run_shadow(tmp_path: Path) -> None:
    """CREATE_SHADOW secures the template's block (the kernel's 2 MiB leaf loses V, a load
    page-faults); each RUN_SHADOW forks an instance into a fresh block, which is secure while it
    runs and public again after its exit; the exit frees the instance (DESTROY -> -1); the third
    instance outlives DESTROY_SHADOW of its template; afterwards the template's id is refused
    and its block is public and scrubbed."""
    run = run_command("shadow", tmp_path)
    assert run.status == 0, run.out + run.err
    assert run.out.count("hello world!\n") == 3
    template_pmd = run.number("shadow.template_pmd")
    assert template_pmd & 1 == 0, "V cleared in the kernel's leaf"
    values(run, {
        "shadow.create": "0",
        "shadow.sid": "0",
        "shadow.template_read": "cause 13",
        "shadow.attest": "0",
        "shadow.attest_nonce": "0x5",
        "shadow.fork1": "0", "shadow.fork1_retval": "0", "shadow.fork1_eid": "0",
        "shadow.fork1_block_during": "cause 13", "shadow.fork1_block_after": "ok",
        "shadow.fork1_destroy": "-1",
        "shadow.fork2": "0", "shadow.fork2_retval": "0", "shadow.fork2_eid": "0",
        "shadow.fork2_block_during": "cause 13", "shadow.fork2_block_after": "ok",
        "shadow.fork2_destroy": "-1",
        "shadow.destroy_during_fork": "0",
        "shadow.fork3": "0",
        "shadow.destroy_again": "-1",
        "shadow.run_destroyed": "-1",
        "shadow.attest_destroyed": "-1",
        "shadow.template_read_after": "ok",
        "shadow.template_value_after": "0x0",
    })


def test_a_host_built_template_is_the_same_enclave_as_pltvm_device_builds(tmp_path: Path) -> None:
    """The template the kernel loaded and created through fid 86 has the measurement
    pltvm.Device gives the same ELF: ATTEST_SHADOW's enclave hash (nonce 5) equals the Device
    template's report."""
    run = run_command("shadow", tmp_path)
    words = [run.number(f"shadow.attest_hash{i}") for i in range(4)]
    kernel_hash = b"".join(w.to_bytes(8, "little") for w in words)
    with pltvm.Device() as dev:
        want = dev.create_shadow("hello-world").attest(5).enclave_hash
    assert kernel_hash == want


@pytest.mark.parametrize("secure_memory, forked", [(2 << 20, False), (4 << 20, True)])
def test_forks_count_their_instance_block_against_secure_memory(tmp_path: Path, secure_memory: int,
                                                                forked: bool) -> None:
    """With room for the template only, RUN_SHADOW gets -2 (ENCLAVE_NO_MEM) and the template
    can still be destroyed; with room for one instance more, each fork runs in turn."""
    run = run_command("shadow", tmp_path, secure_memory=secure_memory)
    assert run.status == 0, run.out + run.err
    assert run.value("shadow.create") == "0"
    if forked:
        assert [run.value(f"shadow.fork{i}") for i in (1, 2, 3)] == ["0", "0", "0"]
    else:
        assert [run.value(f"shadow.fork{i}") for i in (1, 2, 3)] == ["-2", "-2", "-2"]
        assert "hello world!" not in run.out
        assert run.value("shadow.destroy_again") == "0", "the template was still there"


def test_attack_shadow_calls_with_bad_addresses_and_ids(tmp_path: Path) -> None:
    run = run_command("attack-shadow", tmp_path)
    refused = [
        "create_eid_secure", "create_eid_in_block", "create_block_secure", "create_block_monitor",
        "create_block_pt_area", "create_free_mem_outside", "create_param_straddles",
        "run_next_sid", "run_sid_ffffffff", "run_sid_2_32",
        "instance_is_template", "instance_secure", "instance_monitor", "instance_bitmap",
        "instance_pt_area", "instance_partial_leaf", "instance_size_2_63", "instance_size_wraps",
        "eid_secure", "eid_in_instance", "kbuffer_secure", "kbuffer_in_instance",
        "mailbox_secure", "retval_in_template", "relay_secure", "relay_is_instance",
        "relay_straddles", "run_param_straddles",
        "attest_report_secure", "attest_report_monitor", "attest_report_straddles",
        "attest_next_sid", "attest_with_fid_98", "destroy_next_sid", "destroy_with_fid_94",
    ]
    values(run, {f"ashadow.{k}": "-1" for k in refused})
    values(run, {
        "ashadow.donate": "0",
        "ashadow.template_block_public": "ok",
        "ashadow.create": "0",
        "ashadow.instance_block_public": "ok",  # no refused fork kept it
        "ashadow.good_fork": "0",
    })
    assert run.out.count("hello world!\n") == 1
    trapped(run, THIRD_BLOCK + 3 * PAGE)  # the template's block through the old leaf


# ---- server enclaves ---------------------------------------------------------------------------

def test_server_created_by_the_kernel_serves_the_callers_call(tmp_path: Path) -> None:
    """CREATE_SERVER makes the IPC demo's server; the caller demo (created with fid 99 and run
    by the kernel) acquires and calls it; the server's prints reach the kernel as the caller's
    OCALLs. DESTROY_SERVER is refused while the server serves the call, then frees it."""
    run = run_command("server", tmp_path)
    assert run.status == 0, run.out + run.err
    text = [ln for ln in run.out.splitlines() if not ln.startswith("host-kernel:")]
    assert text == [
        "caller begin to run...",
        "server: begin to run",
        "server: read req_vaddr:0x0000000019961000",
        "server: read resp_vaddr:0x0000000019962000",
        "server: exit with ret:0x0000000000000002",
        "caller: read req_vaddr after calling server:0x0000000000001000",
        "caller: read resp_vaddr after calling server:0x0000000000002000",
        "caller: get server retval:0x0000000000000002",
    ]
    assert run.number("server.pmd") & 1 == 0
    values(run, {
        "server.create": "0",
        "server.run": "-1", "server.stop": "-1", "server.attest": "-1", "server.destroy_94": "-1",
        "server.create_same_name": "-1",
        "server.caller_create": "0",
        "server.destroy_in_call": "-1",
        "server.caller_run": "0",
        "server.caller_retval": "0",
        "server.destroy": "0",
        "server.destroy_again": "-1",
        "server.block_after": "ok",
    })


def test_attack_server_calls_with_bad_addresses_and_ids(tmp_path: Path) -> None:
    run = run_command("attack-server", tmp_path)
    refused = [
        "create_eid_secure", "create_block_secure", "create_shm_secure", "create_shm_in_block",
        "create_nameless", "create_param_straddles", "create_same_name",
        "run", "resume", "stop", "attest", "destroy_94", "destroy_shadow_fid",
        "destroy_next_eid", "destroy_ffffffff", "destroy_server_of_normal",
    ]
    values(run, {f"aserver.{k}": "-1" for k in refused})
    values(run, {
        "aserver.donate": "0", "aserver.block_public": "ok", "aserver.create": "0",
        "aserver.normal_create": "0", "aserver.normal_destroy": "0",
    })
    trapped(run, THIRD_BLOCK + 3 * PAGE)  # the server's block through the old leaf


# ---- relay pages -------------------------------------------------------------------------------

@pytest.mark.parametrize("command, second", [("relay", 0), ("relay-fork", 2)])
def test_relay_page_goes_to_the_enclave_and_comes_back(tmp_path: Path, command: str, second: int) -> None:
    """The relay-page demo with one page of kernel RAM (22222 in it) given at RUN or RUN_SHADOW:
    the page faults while the enclave holds it; OCALL_RETURN_RELAY_PAGE hands it back (mailbox
    id 7 with its PA and size); the kernel reads 22222, writes 0 (RUN, as the SDK's host demo)
    or 2 (fork, as fork-host) and RESUME(eid, 2, 7, pa, size) maps it again; the enclave prints
    what it finds, exits 0 and the page is the kernel's again."""
    run = run_command(command, tmp_path)
    assert run.status == 0, run.out + run.err
    text = [ln for ln in run.out.splitlines() if ln.startswith("relay_page")]
    assert text == ["relay_page 1 000056ce", f"relay_page 2 {second:08x}"]
    values(run, {
        "relay.returned_pa_ok": "1",
        "relay.returned_size": "0x1000",
        "relay.read_returned": "ok",
        "relay.value_returned": "0x56ce",
        "relay.read_during_print": "cause 13",
        "relay.run": "0",
        "relay.retval": "0",
        "relay.read_after": "ok",
        "relay.value_after": hex(second),
    })


def test_attack_relay_regions_that_are_not_the_kernels_to_give(tmp_path: Path) -> None:
    run = run_command("attack-relay", tmp_path)
    refused = [
        "secure", "straddles", "own_block", "monitor", "pt_area", "bitmap", "partial_leaf",
        "unaligned", "unaligned_size", "size_without_address", "size_2_63", "size_wraps",
        "larger_than_pool", "past_ram", "kbuffer", "inherit_nothing", "run_param_straddles",
        "name_not_unique",
        "rerun_secure", "rerun_own_block", "rerun_monitor", "rerun_unaligned", "rerun_size_wraps",
    ]
    values(run, {f"arelay.{k}": "-1" for k in refused})
    values(run, {
        "arelay.donate": "0", "arelay.create": "0", "arelay.twin_create": "0",
        "arelay.twin_destroy": "0",
        "arelay.page_public": "ok", "arelay.page_value": "0x56ce",  # untouched by the refusals
        "arelay.good_run": "0", "arelay.good_retval": "0",
        "arelay.second_create": "0",
    })
    # the good run after all the refusals, then a read of the page a second enclave holds
    assert [ln for ln in run.out.splitlines() if ln.startswith("relay_page")] == [
        "relay_page 1 000056ce", "relay_page 2 000056ce"]
    trapped(run, THIRD_BLOCK)
