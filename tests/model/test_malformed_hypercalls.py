"""Malformed hypercalls: each named case gets its exact status and leaves the machine unchanged.

Cases are built per call code from the validation rules in `hvlab.model.hypervisor.hypercalls`, plus
hand-written ones for partition ids and life-cycle states.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from hvlab.model.core.layout import DEFAULT_LAYOUT
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor.calls import CALLS
from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF, PAGE_SIZE, HvCallCode, HvStatus
from hvlab.model.hypervisor.hypercalls import RESERVED_MASK, HypercallInput, hypercall
from hvlab.model.hypervisor.invoke import pack
from tests.helpers import booted, issue, place

ROOT, A = 1, 2
IN = DEFAULT_LAYOUT.root_input_page * PAGE_SIZE
OUT = DEFAULT_LAYOUT.root_output_page * PAGE_SIZE
S = HvStatus


@dataclass(frozen=True)
class Case:
    name: str
    value: int
    expect: HvStatus
    in_gpa: int = IN
    out_gpa: int = OUT
    data: bytes = b""
    caller: int = ROOT


def enc(code, **kw) -> int:
    return HypercallInput.encode(code, **kw)


def sizes(spec, reps):
    return spec.in_size + reps * spec.in_elem, spec.out_size + reps * spec.out_elem


def generated_cases() -> list[Case]:
    cases: list[Case] = []
    modelled = [s for s in CALLS.values() if not s.maintenance]
    for spec in modelled:
        code, tag = spec.code, spec.code.label
        good = {"rep_count": 1} if spec.rep else {}
        base = enc(code, **good)
        for bit in (27, 31, 44, 47, 60, 63):
            cases.append(
                Case(f"{tag}-reserved-bit-{bit}", base | 1 << bit, S.INVALID_HYPERCALL_INPUT)
            )
        if spec.rep:
            cases.append(Case(f"{tag}-rep-count-zero", enc(code), S.INVALID_HYPERCALL_INPUT))
            cases.append(
                Case(
                    f"{tag}-rep-start-equals-count",
                    enc(code, rep_count=2, rep_start=2),
                    S.INVALID_HYPERCALL_INPUT,
                )
            )
            cases.append(
                Case(
                    f"{tag}-rep-start-above-count",
                    enc(code, rep_count=1, rep_start=9),
                    S.INVALID_HYPERCALL_INPUT,
                )
            )
        else:
            cases.append(
                Case(
                    f"{tag}-simple-with-rep-count",
                    enc(code, rep_count=1),
                    S.INVALID_HYPERCALL_INPUT,
                )
            )
            cases.append(
                Case(
                    f"{tag}-simple-with-rep-start",
                    enc(code, rep_start=1),
                    S.INVALID_HYPERCALL_INPUT,
                )
            )
        cases.append(
            Case(
                f"{tag}-variable-header", enc(code, var_header=1, **good), S.INVALID_HYPERCALL_INPUT
            )
        )
        if not spec.fast_ok:
            cases.append(
                Case(
                    f"{tag}-fast-without-register-form",
                    enc(code, fast=True, **good),
                    S.INVALID_HYPERCALL_INPUT,
                )
            )
        in_size, out_size = sizes(spec, 1 if spec.rep else 0)
        if in_size:
            cases.append(
                Case(f"{tag}-input-misaligned-by-4", base, S.INVALID_ALIGNMENT, in_gpa=IN + 4)
            )
            if in_size > 8:
                cases.append(
                    Case(
                        f"{tag}-input-straddles-page",
                        base,
                        S.INVALID_ALIGNMENT,
                        in_gpa=IN + PAGE_SIZE - 8,
                    )
                )
            cases.append(
                Case(
                    f"{tag}-input-beyond-gpa-space",
                    base,
                    S.INVALID_ALIGNMENT,
                    in_gpa=DEFAULT_LAYOUT.frames * PAGE_SIZE,
                )
            )
            cases.append(
                Case(
                    f"{tag}-input-wraps-past-2^64", base, S.INVALID_ALIGNMENT, in_gpa=(1 << 64) - 8
                )
            )
            cases.append(
                Case(
                    f"{tag}-input-on-hypervisor-frame",
                    base,
                    S.INVALID_PARAMETER,
                    in_gpa=DEFAULT_LAYOUT.hv_data.start * PAGE_SIZE,
                )
            )
        if out_size:
            cases.append(
                Case(f"{tag}-output-misaligned-by-4", base, S.INVALID_ALIGNMENT, out_gpa=OUT + 4)
            )
            if out_size > 8:
                cases.append(
                    Case(
                        f"{tag}-output-straddles-page",
                        base,
                        S.INVALID_ALIGNMENT,
                        out_gpa=OUT + PAGE_SIZE - 8,
                    )
                )
            cases.append(
                Case(
                    f"{tag}-output-beyond-gpa-space",
                    base,
                    S.INVALID_ALIGNMENT,
                    out_gpa=DEFAULT_LAYOUT.frames * PAGE_SIZE,
                )
            )
            cases.append(
                Case(
                    f"{tag}-output-on-read-only-page",
                    base,
                    S.INVALID_PARAMETER,
                    out_gpa=DEFAULT_LAYOUT.root_hypercall_page * PAGE_SIZE,
                )
            )
        if spec.privilege is not None and spec.privilege.name not in CHILD_HAS:
            cases.append(
                Case(
                    f"{tag}-child-lacks-privilege",
                    base,
                    S.ACCESS_DENIED,
                    in_gpa=2 * PAGE_SIZE,
                    out_gpa=3 * PAGE_SIZE,
                    caller=A,
                )
            )
        elif in_size:
            cases.append(
                Case(
                    f"{tag}-child-input-unmapped",
                    base,
                    S.INVALID_PARAMETER,
                    in_gpa=40 * PAGE_SIZE,
                    out_gpa=3 * PAGE_SIZE,
                    caller=A,
                )
            )
        else:
            cases.append(
                Case(
                    f"{tag}-child-output-unmapped",
                    base,
                    S.INVALID_PARAMETER,
                    in_gpa=2 * PAGE_SIZE,
                    out_gpa=40 * PAGE_SIZE,
                    caller=A,
                )
            )
    return cases


CHILD_HAS = {"POST_MESSAGES", "SIGNAL_EVENTS", "ACCESS_PARTITION_ID"}


def unknown_code_cases() -> list[Case]:
    codes = [
        0x0000,
        0x0001,
        0x0047,
        0x004A,
        0x0052,
        0x0FFF,
        0x7FFF,
        0xFFFF,
        HvCallCode.GET_PARTITION_PROPERTY,
        HvCallCode.SET_PARTITION_PROPERTY,
        HvCallCode.ASSERT_VIRTUAL_INTERRUPT,
        HvCallCode.WRITE_HYPERVISOR_MEMORY,
    ]
    return [Case(f"unknown-code-{c:#06x}", enc(c), S.INVALID_HYPERCALL_CODE) for c in codes]


def handler_cases() -> list[Case]:
    """Target partition ids, parents, life-cycle states and parameters."""
    c = HvCallCode
    bad = 0x99

    def simple(name, code, data, expect, caller=ROOT, **kw):
        in_gpa = IN if caller == ROOT else 2 * PAGE_SIZE
        out_gpa = OUT if caller == ROOT else 3 * PAGE_SIZE
        return Case(name, enc(code, **kw), expect, in_gpa, out_gpa, data, caller)

    return [
        simple(
            "initialize-bad-partition-id", c.INITIALIZE_PARTITION, pack(bad), S.INVALID_PARTITION_ID
        ),
        simple(
            "initialize-invalid-id-zero", c.INITIALIZE_PARTITION, pack(0), S.INVALID_PARTITION_ID
        ),
        simple("initialize-twice", c.INITIALIZE_PARTITION, pack(A), S.INVALID_PARTITION_STATE),
        simple("initialize-the-root", c.INITIALIZE_PARTITION, pack(ROOT), S.ACCESS_DENIED),
        simple(
            "finalize-bad-partition-id", c.FINALIZE_PARTITION, pack(bad), S.INVALID_PARTITION_ID
        ),
        simple("delete-before-finalize", c.DELETE_PARTITION, pack(A), S.INVALID_PARTITION_STATE),
        simple("delete-bad-partition-id", c.DELETE_PARTITION, pack(bad), S.INVALID_PARTITION_ID),
        simple("create-vp-index-64", c.CREATE_VP, pack(A, 64), S.INVALID_VP_INDEX),
        simple("create-vp-that-exists", c.CREATE_VP, pack(A, 0), S.INVALID_VP_STATE),
        simple("create-vp-bad-partition", c.CREATE_VP, pack(bad, 1), S.INVALID_PARTITION_ID),
        simple("start-vp-missing", c.START_VIRTUAL_PROCESSOR, pack(A, 5), S.INVALID_VP_INDEX),
        # a parent starts a child's VP by clearing its explicit suspend, not with this call
        simple("start-vp-of-a-child", c.START_VIRTUAL_PROCESSOR, pack(A, 0), S.ACCESS_DENIED),
        simple(
            "start-vp-running",
            c.START_VIRTUAL_PROCESSOR,
            L.START_VP.pack(partition_id=HV_PARTITION_ID_SELF, vp_index=0),
            S.INVALID_VP_STATE,
            caller=A,
        ),
        simple("delete-vp-running", c.DELETE_VP, pack(A, 0), S.INVALID_VP_STATE),
        simple(
            "map-gpa-bad-target",
            c.MAP_GPA_PAGES,
            pack(bad, 0, 3, 0x300),
            S.INVALID_PARTITION_ID,
            rep_count=1,
        ),
        simple(
            "map-gpa-no-read-flag",
            c.MAP_GPA_PAGES,
            pack(A, 60, 2, 0x300),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "map-gpa-unknown-flags",
            c.MAP_GPA_PAGES,
            pack(A, 60, 0x13, 0x300),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "map-gpa-past-target-space",
            c.MAP_GPA_PAGES,
            pack(A, 64, 3, 0x300),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "map-gpa-source-is-hypervisor",
            c.MAP_GPA_PAGES,
            pack(A, 60, 3, 0x10),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "map-gpa-source-is-pool-frame",
            c.MAP_GPA_PAGES,
            pack(A, 60, 3, 0x80),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "unmap-gpa-past-target-space",
            c.UNMAP_GPA_PAGES,
            L.UNMAP_GPA_PAGES.pack(target_partition_id=A, target_gpa_base=64),
            S.INVALID_PARAMETER,
            rep_count=1,
        ),
        simple(
            "deposit-hypervisor-frame",
            c.DEPOSIT_MEMORY,
            pack(A, 0x10),
            S.OPERATION_DENIED,
            rep_count=1,
        ),
        simple(
            "deposit-frame-backing-a-child",
            c.DEPOSIT_MEMORY,
            pack(A, 0x90),
            S.OPERATION_DENIED,
            rep_count=1,
        ),
        simple(
            "deposit-frame-already-in-a-pool",
            c.DEPOSIT_MEMORY,
            pack(A, 0x80),
            S.OPERATION_DENIED,
            rep_count=1,
        ),
        simple(
            "deposit-bad-partition",
            c.DEPOSIT_MEMORY,
            pack(bad, 0x300),
            S.INVALID_PARTITION_ID,
            rep_count=1,
        ),
        simple(
            "withdraw-bad-partition",
            c.WITHDRAW_MEMORY,
            pack(bad, 0),
            S.INVALID_PARTITION_ID,
            rep_count=1,
        ),
        simple(
            "install-intercept-unknown-type",
            c.INSTALL_INTERCEPT,
            pack(A, 7 << 32, 0x60),
            S.INVALID_PARAMETER,
        ),
        simple(
            "post-message-payload-241",
            c.POST_MESSAGE,
            pack(1, 1 | 241 << 32).ljust(256, b"\0"),
            S.INVALID_PARAMETER,
            caller=A,
        ),
        simple(
            "post-message-hypervisor-type",
            c.POST_MESSAGE,
            pack(1, 0x8000_0000 | 8 << 32).ljust(256, b"\0"),
            S.INVALID_PARAMETER,
            caller=A,
        ),
        simple(
            "post-message-unknown-connection",
            c.POST_MESSAGE,
            pack(77, 1 | 8 << 32).ljust(256, b"\0"),
            S.INVALID_CONNECTION_ID,
            caller=A,
        ),
        simple(
            "post-message-to-event-port",
            c.POST_MESSAGE,
            pack(2, 1 | 8 << 32).ljust(256, b"\0"),
            S.INVALID_CONNECTION_ID,
            caller=A,
        ),
        simple(
            "signal-unknown-connection", c.SIGNAL_EVENT, pack(77), S.INVALID_CONNECTION_ID, caller=A
        ),
        simple("signal-message-port", c.SIGNAL_EVENT, pack(1), S.INVALID_CONNECTION_ID, caller=A),
        simple(
            "signal-flag-out-of-range",
            c.SIGNAL_EVENT,
            L.SIGNAL_EVENT.pack(connectionid=0x10000 + 33, flag_number=1),  # a port of one flag
            S.INVALID_PARAMETER,
            caller=A,
        ),
        simple(
            "create-port-bad-sint",
            c.CREATE_PORT,
            port(ROOT, 500, A, 1, sint=16),
            S.INVALID_PARAMETER,
        ),
        simple(
            "create-port-bad-type", c.CREATE_PORT, pack(ROOT, 500, A, 3, 0), S.INVALID_PARAMETER
        ),
        simple(
            "create-port-duplicate",
            c.CREATE_PORT,
            port(ROOT, 0x100 + A, A, 1),  # the root's message port for A's channel messages
            S.INVALID_PORT_ID,
        ),
        simple(
            "connect-missing-port", c.CONNECT_PORT, connect(A, 9, ROOT, 4444, 1), S.INVALID_PORT_ID
        ),
        simple(
            "create-event-port-flags-past-2048",
            c.CREATE_PORT,
            port(ROOT, 501, A, 2, base=2047, count=2),
            S.INVALID_PARAMETER,
        ),
        simple(
            "connect-duplicate-connection",
            c.CONNECT_PORT,
            connect(A, 1, ROOT, 0x100 + A, 1),
            S.INVALID_CONNECTION_ID,
        ),
        simple(
            "get-registers-of-non-child",
            c.GET_VP_REGISTERS,
            pack(ROOT, 0, 0x20010),
            S.ACCESS_DENIED,
            caller=A,
            rep_count=1,
        ),
        simple(
            "get-registers-missing-vp",
            c.GET_VP_REGISTERS,
            pack(HV_PARTITION_ID_SELF, 3, 0x20010),
            S.INVALID_VP_INDEX,
            caller=A,
            rep_count=1,
        ),
        simple(
            "child-maps-sibling-frames",
            c.MAP_GPA_PAGES,
            pack(3, 0, 3, 0x300),
            S.ACCESS_DENIED,
            caller=A,
            rep_count=1,
        ),
        simple(
            "child-deposits-into-sibling",
            c.DEPOSIT_MEMORY,
            pack(3, 8),
            S.ACCESS_DENIED,
            caller=A,
            rep_count=1,
        ),
    ]


def port(owner, port_id, peer, kind, sint=2, base=0, count=0) -> bytes:
    return L.CREATE_PORT.pack(
        port_partition_id=owner,
        port_id=port_id,
        connection_partition_id=peer,
        **{
            "port_info.port_type": kind,
            "port_info.message_port_info.target_sint": sint,
            "port_info.event_port_info.base_flag_number": base,
            "port_info.event_port_info.flag_count": count,
        },
    )


def connect(pid, conn, port_pid, port_id, kind) -> bytes:
    return L.CONNECT_PORT.pack(
        connection_partition_id=pid,
        connection_id=conn,
        port_partition_id=port_pid,
        port_id=port_id,
        **{"connection_info.port_type": kind},
    )


CASES = generated_cases() + unknown_code_cases() + handler_cases()


def test_enough_named_cases():
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_malformed_call_exact_status_and_no_change(case):
    m = booted()
    place(m, case.caller, case.in_gpa, case.data)
    before = dict(m.store.data)
    result = hypercall(m, case.caller, case.value, case.in_gpa, case.out_gpa)
    assert result.status is case.expect, (case.name, result)
    assert result.reps == 0
    assert m.store.data == before, case.name


def test_a_thousand_random_input_values_never_raise_and_failures_change_nothing():
    rng = random.Random(1234)
    m = booted()
    codes = [*CALLS, 0, 0xFFFF]
    for _ in range(1000):
        value = rng.getrandbits(64)
        if rng.random() < 0.7:  # keep most near real codes so validation goes deep
            value = (value & ~0xFFFF & ~RESERVED_MASK) | rng.choice(codes)
        caller = rng.choice((ROOT, A, 3))
        in_gpa = rng.choice(
            (IN, 2 * PAGE_SIZE, rng.getrandbits(64), rng.randrange(0, 1 << 23) & ~7)
        )
        out_gpa = rng.choice((OUT, 3 * PAGE_SIZE, rng.getrandbits(64)))
        before = dict(m.store.data)
        result = issue(m, caller, value, in_gpa, out_gpa)
        assert isinstance(result.status, HvStatus)
        if not result.ok and result.reps == 0:
            assert m.store.data == before
