"""Privilege pairs: each privileged call is refused without its bit, and passes with it."""

import pytest

from hvlab.model.core.events import Phase
from hvlab.model.hypervisor import partitions
from hvlab.model.hypervisor.calls import CALLS
from hvlab.model.hypervisor.constants import (
    CHILD_PRIVILEGES,
    PAGE_SIZE,
    ROOT_PRIVILEGES,
    HvStatus,
    Privilege,
)
from hvlab.model.hypervisor.hypercalls import HypercallInput
from tests.helpers import booted, issue

A = 2
PRIVILEGED = [s for s in CALLS.values() if s.privilege is not None]


def call_as_child(spec, mask: int):
    m = booted()
    partitions.set_field(m.store, A, "privileges", mask)
    m.store.take()
    value = HypercallInput.encode(spec.code, rep_count=1 if spec.rep else 0)
    start = len(m.events)
    result = issue(m, A, value, 2 * PAGE_SIZE, 3 * PAGE_SIZE, b"\0" * spec.in_size)
    validate = next(e for e in m.events[start:] if e.phase is Phase.VALIDATE)
    return result, validate


@pytest.mark.parametrize("spec", PRIVILEGED, ids=lambda s: s.code.label)
def test_without_the_privilege_access_is_denied(spec):
    result, validate = call_as_child(spec, ROOT_PRIVILEGES & ~(1 << spec.privilege))
    assert result.status is HvStatus.ACCESS_DENIED
    assert validate.protection == "hypercall-only-access"
    assert validate.detail_dict()["why"] == f"caller lacks {spec.privilege.name}"


@pytest.mark.parametrize("spec", PRIVILEGED, ids=lambda s: s.code.label)
def test_with_the_privilege_the_check_passes(spec):
    _result, validate = call_as_child(spec, CHILD_PRIVILEGES | 1 << spec.privilege)
    assert validate.status is HvStatus.SUCCESS
    assert "lacks" not in str(validate.detail_dict().get("why", ""))


def test_masks_use_the_real_bit_numbers():
    assert Privilege.CREATE_PARTITIONS == 32 and Privilege.ACCESS_MEMORY_POOL == 34
    assert Privilege.POST_MESSAGES == 36 and Privilege.SIGNAL_EVENTS == 37
    assert Privilege.CPU_MANAGEMENT == 44
    assert CHILD_PRIVILEGES >> 36 & 1 and CHILD_PRIVILEGES >> 37 & 1
    for bit in (
        Privilege.CREATE_PARTITIONS,
        Privilege.ACCESS_MEMORY_POOL,
        Privilege.CPU_MANAGEMENT,
    ):
        assert not CHILD_PRIVILEGES >> bit & 1
