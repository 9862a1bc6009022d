"""The call table, whole: every handler module registered. What the dispatcher and the
callers' helpers look calls up in."""

from __future__ import annotations

from hvlab.model.hypervisor import message_calls, partition_calls
from hvlab.model.hypervisor.hypercall_abi import CALLS, Call, CallSpec

HANDLERS = (partition_calls, message_calls)  # imported for the calls they register
__all__ = ["CALLS", "HANDLERS", "Call", "CallSpec"]
