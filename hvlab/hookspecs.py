"""hvlab's hook specifications (pluggy project name `hvlab`). Every hook starts with `hvlab_`.

Families: catalogue (register attacks, defenses and workloads), observers (see every event,
read-only) and lifecycle (a lab run started or finished). The plugin guide in
`docs/plugins.md` is generated from these docstrings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hvlab.model.core.attacks import Attack
    from hvlab.model.core.canaries import Outcome
    from hvlab.model.core.events import Event
    from hvlab.model.root.sites import DefenseSite, DriverLoadSite, PacketSite

PROJECT = "hvlab"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- catalogue ----------------------------------------------------------------------------------
@hookspec
def hvlab_register_attacks(register: Callable[[Attack], None]) -> None:
    """Register attacks by calling `register(Attack(...))` once per attack.

    :param register: records one `hvlab.model.core.attacks.Attack`; a name already taken by another
        plugin is refused with an error naming both plugins.

    Example::

        @hookimpl
        def hvlab_register_attacks(register):
            register(Attack("root-reads-guest", "the root reads A's secret", "boot",
                            breach_sets=(frozenset(),), actors=my_actors))
    """


@hookspec
def hvlab_register_workloads(register: Callable[[str, Callable, str], None]) -> None:
    """Register workloads by calling `register(name, build, summary)`.

    :param register: `build(machine, **params)` returns the list of actors
        (`hvlab.model.core.engine.Actor`) that make up the workload.

    Example::

        @hookimpl
        def hvlab_register_workloads(register):
            register("idle", lambda machine, **_: boot(machine), "boot and do nothing")
    """


@hookspec
def hvlab_register_defenses(register: Callable[[str, str], None]) -> None:
    """Register defenses by calling `register(protection_id, principle)`.

    :param register: adds a protection id of your own. It is on by default, can be switched off
        with `--off ID` like a built-in, and appears in `hvlab matrix` as one more axis. Its
        mechanism is your site hooks (for now `hvlab_site_driver_load`), called while it is on.

    Example::

        @hookimpl
        def hvlab_register_defenses(register):
            register("driver-signing", "Only signed drivers load into the hypervisor.")
    """


@hookspec
def hvlab_register_canaries(register: Callable[..., None]) -> None:
    """Register canaries by calling `register(name, where, gpa, readers=..., writers=...)`.

    :param register: plants, with the lab's own canaries at the start of every run, a secret
        token at guest-physical `gpa` of `where`'s memory (`"root"` or `"hypervisor"`: a guest
        plants its own with `PlantSecret`) that only the principals in `readers` may read, and/or
        an integrity marker on that frame that only `writers` may write. The oracle then judges
        reads and writes of it as it does the lab's: a root kernel structure, a VSP's private
        memory.

    Example::

        @hookimpl
        def hvlab_register_canaries(register):
            register("storvsp-private", "root", 0x3F000, readers=("root.storvsp", "hypervisor"))
    """


# -- sites ----------------------------------------------------------------------------------------
@hookspec
def hvlab_site_vmbus_packet(ctx: PacketSite) -> None:
    """A frame crosses the virtual switch where one of this plugin's drivers is installed.

    Called only for the plugin that owns the driver (named in its `Attack.drivers`), and only
    if the model installed that driver where the switch runs: a driver in the hypervisor never
    sees frames while `guest-traffic-via-root` keeps the switch in the root.

    :param ctx: a `hvlab.model.root.sites.PacketSite`: `driver`, `where`, `source`, `destination`,
        `length`, and the capabilities `observe()` (returns the frame), `modify(frame)` and
        `drop()`. Each use is an event; what the driver learns is judged by the oracle with the
        driver as principal.

    Example::

        @hookimpl
        def hvlab_site_vmbus_packet(ctx):
            if ctx.driver == "mitm":
                ctx.observe()
    """


@hookspec
def hvlab_site_driver_load(ctx: DriverLoadSite) -> None:
    """A driver asks to be loaded, and one of this plugin's defenses is switched on.

    Called only for the plugin that registered `ctx.defense`, and only while that protection is
    on — after the model's own checks (a load into the hypervisor with `no-third-party-code`
    on never gets here).

    :param ctx: a `hvlab.model.root.sites.DriverLoadSite`: `driver`, `where`, `requester`,
        `defense`, and the capability `refuse(why)`, which becomes an event naming your
        protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_driver_load(ctx):
            if ctx.where == "hypervisor" and ctx.driver not in SIGNED:
                ctx.refuse("not signed")
    """


@hookspec
def hvlab_site_hypercall(ctx: DefenseSite) -> None:
    """A hypercall passed the hypervisor's own checks and is about to be dispatched, and one of this
    plugin's defenses is switched on.

    Called only for the plugin that registered `ctx.defense`, only while that protection is on, and
    only for plugins that implement this hook (the model asks no one otherwise).

    :param ctx: a `hvlab.model.core.sites.DefenseSite` with `site`, `defense`, `fields` and each
        field as an attribute: `partition` (the caller), `code` (the call code), `name`
        (`HvCallPostMessage`), `rep_count`, `fast`. `refuse(why)` refuses: the model answers with
        HV_STATUS_ACCESS_DENIED, an event naming your protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_hypercall(ctx):
            if ctx.partition != "root" and ctx.name == "HvCallPostMessage" and ctx.rep_count:
                ctx.refuse("children post no rep calls")
    """


@hookspec
def hvlab_site_memory_access(ctx: DefenseSite) -> None:
    """A partition reads or writes memory through its map, and one of this plugin's defenses is
    switched on.

    Called only for the plugin that registered `ctx.defense`, only while that protection is on, and
    only for plugins that implement this hook (the model asks no one otherwise).

    :param ctx: a `hvlab.model.core.sites.DefenseSite` with `site`, `defense`, `fields` and each
        field as an attribute: `partition`, `gpa`, `size`, `write` (a bool). `refuse(why)` refuses:
        the model answers with a fault (`access-refused`) the actor sees as a failed access, an
        event naming your protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_memory_access(ctx):
            if ctx.partition == "A" and ctx.write and ctx.gpa < 0x1000:
                ctx.refuse("page 0 is read-only for A")
    """


@hookspec
def hvlab_site_port_io(ctx: DefenseSite) -> None:
    """A partition issues IN or OUT on an I/O port, and one of this plugin's defenses is switched
    on.

    Called only for the plugin that registered `ctx.defense`, only while that protection is on, and
    only for plugins that implement this hook (the model asks no one otherwise).

    :param ctx: a `hvlab.model.core.sites.DefenseSite` with `site`, `defense`, `fields` and each
        field as an attribute: `partition`, `port`, `direction` (`in` or `out`), `size`.
        `refuse(why)` refuses: the model answers with `port-refused` (an IN reads all ones), an
        event naming your protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_port_io(ctx):
            if ctx.partition != "root" and 0x1F0 <= ctx.port <= 0x1F7:
                ctx.refuse("children do not drive the disk controller")
    """


@hookspec
def hvlab_site_vsp_packet(ctx: DefenseSite) -> None:
    """A VSP fetched a packet from a guest's ring and is about to act on it, and one of this
    plugin's defenses is switched on.

    Called only for the plugin that registered `ctx.defense`, only while that protection is on, and
    only for plugins that implement this hook (the model asks no one otherwise).

    :param ctx: a `hvlab.model.core.sites.DefenseSite` with `site`, `defense`, `fields` and each
        field as an attribute: `partition` (the sender), `relid`, `device` (`storage` or `network`),
        `type` (the VMBus packet type), `length`, `trans_id`. `refuse(why)` refuses: the model
        answers with `packet-corrupt` (the channel is marked broken, as the VSP's own checks do), an
        event naming your protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_vsp_packet(ctx):
            if ctx.length > 4096:
                ctx.refuse("packets larger than a page")
    """


@hookspec
def hvlab_site_vmbus_message(ctx: DefenseSite) -> None:
    """The VMBus server got a GPADL or OPENCHANNEL control message, and one of this plugin's
    defenses is switched on.

    Called only for the plugin that registered `ctx.defense`, only while that protection is on, and
    only for plugins that implement this hook (the model asks no one otherwise).

    :param ctx: a `hvlab.model.core.sites.DefenseSite` with `site`, `defense`, `fields` and each
        field as an attribute: `partition` (the sender), `message` (`CHANNELMSG_GPADL_HEADER`,
        `CHANNELMSG_GPADL_BODY` or `CHANNELMSG_OPENCHANNEL`), `relid` (0 for a GPADL body).
        `refuse(why)` refuses: the model answers with `gpadl-refused` or `open-refused`, and the
        reply's status says refused, an event naming your protection id as the one that decided.

    Example::

        @hookimpl
        def hvlab_site_vmbus_message(ctx):
            if ctx.partition == "B" and ctx.message == "CHANNELMSG_OPENCHANNEL":
                ctx.refuse("B gets no synthetic devices")
    """


# -- observers ----------------------------------------------------------------------------------
@hookspec
def hvlab_event(event: Event) -> None:
    """Called once for every event of a run, in order, after the run is computed.

    :param event: the immutable `hvlab.model.core.events.Event`; observers cannot change the run.

    Example::

        @hookimpl
        def hvlab_event(event):
            if event.kind == "breach":
                print("breach at step", event.step)
    """


# -- lifecycle ----------------------------------------------------------------------------------
@hookspec
def hvlab_lab_started(info: dict[str, Any]) -> None:
    """A run is about to be computed.

    :param info: `workload`, `design` (the ids switched off), `seed`, `attack` (or None).

    Example::

        @hookimpl
        def hvlab_lab_started(info):
            print("running", info["workload"])
    """


@hookspec
def hvlab_lab_finished(info: dict[str, Any], outcome: Outcome) -> None:
    """A run has been computed and judged by the oracle.

    :param info: as for `hvlab_lab_started`, plus `events` (the count).
    :param outcome: the oracle's `hvlab.model.core.canaries.Outcome`.

    Example::

        @hookimpl
        def hvlab_lab_finished(info, outcome):
            print(info["workload"], outcome.result)
    """
