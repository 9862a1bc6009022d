"""hvlab exercise hypercall-allowlist: a defense plugin at the hypercall site.

This file is a plugin (docs/plugins.md): it registers a protection of its own, and the model
asks its site hook about every hypercall that passed the hypervisor's own checks while that
protection is on.

Check it with:  hvlab exercise check hypercall-allowlist THIS-FILE
Try it in the lab:  hvlab --plugin THIS-FILE --attack privileged-hypercall --off hypercall-only-access
"""

from hvlab.api import hookimpl

DEFENSE = "child-call-allowlist"


@hookimpl
def hvlab_register_defenses(register):
    register(DEFENSE, "A child partition makes only the hypercalls a guest needs.")


@hookimpl
def hvlab_site_hypercall(ctx):
    """A hypercall is about to be dispatched.

    ctx.defense    the protection being asked (DEFENSE: this plugin registers only it)
    ctx.partition  the caller: "root", "A" or "B"
    ctx.name       the call, e.g. "HvCallPostMessage"; ctx.code its call code
    ctx.rep_count, ctx.fast   the input value's rep count and fast bit
    ctx.refuse(why)           refuse it: the caller gets HV_STATUS_ACCESS_DENIED, and the
                              event names DEFENSE as the protection that decided
    """
    if ctx.defense != DEFENSE:
        return
    # The failing behaviour: every call passes. With hypercall-only-access off, the hypervisor
    # skips its privilege checks, and a child maps another guest's frame into itself.
