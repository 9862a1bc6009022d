"""Everything a plugin may import from hvlab, in one module.

Plugins — attacks, defenses, workloads, observers — import from here and nowhere else in hvlab
(the built-in plugins do the same, and a test holds every file under `plugins/` and
`docs/examples/` to it). What is here is kept stable across internal moves; what is not is the
model's own business and may change. docs/plugins.md explains each name.

    from hvlab.api import Attack, AttackActor, BeginProbe, EndProbe, Read, WaitUntil, hookimpl
"""

from __future__ import annotations

from hvlab.hookspecs import hookimpl
from hvlab.model.core.attacks import ALWAYS, NEVER, Attack, AttackActor, Breach
from hvlab.model.core.canaries import Outcome
from hvlab.model.core.engine import (
    Actor,
    BeginProbe,
    Call,
    EndProbe,
    Handle,
    InjectDriver,
    Leak,
    LoadDriver,
    PortIo,
    RawHypercall,
    Read,
    WaitUntil,
    Write,
    WriteMsr,
)
from hvlab.model.core.events import Event, EventKind, Phase
from hvlab.model.core.layout import (
    CHILDREN,
    DEFAULT_LAYOUT,
    GUEST_HYPERCALL_PAGE,
    GUEST_INPUT_PAGE,
    GUEST_OUTPUT_PAGE,
    GUEST_SECRET_PAGE,
    PAGE_SIZE,
    ChildSpec,
    Layout,
)
from hvlab.model.core.protections import Protection
from hvlab.model.core.sites import DefenseSite
from hvlab.model.guest.kernel import LIBRARY_BUILDS, ide_command
from hvlab.model.guest.netvsc import rndis_request
from hvlab.model.guest.storvsc import disk_io
from hvlab.model.hardware.devices import (
    ATA_READ_DMA,
    ATA_READ_SECTORS,
    ATA_WRITE_DMA,
    ATA_WRITE_SECTORS,
    BM_COMMAND,
    BM_PRD,
    BM_START,
    BM_TO_MEMORY,
    IDE_CONTROL_PORTS,
    IDE_PORTS,
    PRD_LAST,
    SECTOR,
)
from hvlab.model.hypervisor.constants import (
    HV_PARTITION_ID_SELF,
    HvCallCode,
    HvMessageType,
    HvStatus,
    InterceptType,
    MapFlags,
    Privilege,
)
from hvlab.model.hypervisor.hypercall_abi import HypercallInput, HypercallResult
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.root.sites import DriverLoadSite, PacketSite
from hvlab.model.scenarios.probes import PROBES
from hvlab.model.scenarios.probes import run as run_probe
from hvlab.model.scenarios.workloads import boot, children_booted
from hvlab.model.vmbus.channels import (
    CHANNEL_PAGES,
    EVENT_CONNECTION,
    VMBUS_CONNECTION,
    Device,
)
from hvlab.model.vmbus.network_protocol import OID_GEN_CURRENT_PACKET_FILTER, set_request
from hvlab.model.vmbus.storage_protocol import CDB_READ, CDB_WRITE, VStorOperation

__all__ = [  # noqa: RUF022 (grouped by what they are for, as docs/plugins.md lists them)
    # hooks and records
    "ALWAYS",
    "Attack",
    "AttackActor",
    "Breach",
    "NEVER",
    "hookimpl",
    # the operations an actor's program yields, and what it is handed
    "Actor",
    "BeginProbe",
    "Call",
    "EndProbe",
    "Handle",
    "InjectDriver",
    "Leak",
    "LoadDriver",
    "PortIo",
    "RawHypercall",
    "Read",
    "WaitUntil",
    "Write",
    "WriteMsr",
    # conditions and programs to build on
    "boot",
    "children_booted",
    "disk_io",
    "rndis_request",
    "set_request",
    "OID_GEN_CURRENT_PACKET_FILTER",
    "ide_command",
    "PROBES",
    "run_probe",
    # what a hook is given
    "DefenseSite",
    "DriverLoadSite",
    "Event",
    "EventKind",
    "Outcome",
    "PacketSite",
    "Phase",
    # the machine's layout: principals, guests, pages, rings, connections
    "LIBRARY_BUILDS",
    "CHANNEL_PAGES",
    "CHILDREN",
    "ChildSpec",
    "DEFAULT_LAYOUT",
    "Device",
    "EVENT_CONNECTION",
    "GUEST_HYPERCALL_PAGE",
    "GUEST_INPUT_PAGE",
    "GUEST_OUTPUT_PAGE",
    "GUEST_SECRET_PAGE",
    "HYPERVISOR",
    "Layout",
    "PAGE_SIZE",
    "ROOT",
    "VMBUS_CONNECTION",
    # the protections, and the hypervisor's and devices' codes with their real values
    "ATA_READ_DMA",
    "ATA_READ_SECTORS",
    "ATA_WRITE_DMA",
    "ATA_WRITE_SECTORS",
    "BM_COMMAND",
    "BM_PRD",
    "BM_START",
    "BM_TO_MEMORY",
    "PRD_LAST",
    "CDB_READ",
    "CDB_WRITE",
    "HV_PARTITION_ID_SELF",
    "HvCallCode",
    "HvMessageType",
    "HvStatus",
    "HypercallInput",
    "HypercallResult",
    "IDE_CONTROL_PORTS",
    "IDE_PORTS",
    "InterceptType",
    "MapFlags",
    "Privilege",
    "Protection",
    "SECTOR",
    "VStorOperation",
    "pack",
]
