"""hvlab exercise hypercall-allowlist: a reference solution."""

from hvlab.api import hookimpl

DEFENSE = "child-call-allowlist"
GUEST_CALLS = frozenset(
    {"HvCallPostMessage", "HvCallSignalEvent", "HvCallGetPartitionId", "HvCallGetVpRegisters"}
)


@hookimpl
def hvlab_register_defenses(register):
    register(DEFENSE, "A child partition makes only the hypercalls a guest needs.")


@hookimpl
def hvlab_site_hypercall(ctx):
    if ctx.defense == DEFENSE and ctx.partition != "root" and ctx.name not in GUEST_CALLS:
        ctx.refuse(f"{ctx.name} is not a call a guest makes")
