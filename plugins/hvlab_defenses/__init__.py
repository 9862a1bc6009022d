"""hvlab's built-in defense plugin: driver signing.

It adds a protection of its own, `driver-signing`: while it is on, a driver may load into the
hypervisor only if it is on the signed list. It shows how a plugin extends the design — the
new id is switched with `--off` like a built-in and is one more axis of `hvlab matrix` — and
what defense in depth means: with a loader in the hypervisor (`no-third-party-code` off), the
MITM driver still needs this check gone, or the maintenance interface, to get in.
"""

from __future__ import annotations

from hvlab.api import hookimpl

__version__ = "0.1.0"

DRIVER_SIGNING = "driver-signing"
SIGNED = frozenset({"vendor-storage-filter", "vendor-nic-offload"})


@hookimpl
def hvlab_register_defenses(register):
    register(DRIVER_SIGNING, "Only drivers signed by the platform vendor load into the hypervisor.")


@hookimpl
def hvlab_site_driver_load(ctx):
    if ctx.defense == DRIVER_SIGNING and ctx.where == "hypervisor" and ctx.driver not in SIGNED:
        ctx.refuse(f"driver '{ctx.driver}' is not signed")
