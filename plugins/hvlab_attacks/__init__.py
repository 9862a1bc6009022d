"""hvlab's built-in attacks, written as a plugin like any other (entry point `hvlab-attacks`).

Each attack rides on the `boot` workload: its actor waits until both guests have booted and
stored their secrets, then runs one probe. The breach sets are this plugin's claims; the test
suite and `hvlab matrix` check them against the model under every design.
"""

from __future__ import annotations

from hvlab.api import (
    ATA_READ_DMA,
    ATA_READ_SECTORS,
    BM_COMMAND,
    BM_PRD,
    BM_START,
    BM_TO_MEMORY,
    CDB_WRITE,
    CHILDREN,
    DEFAULT_LAYOUT,
    GUEST_INPUT_PAGE,
    HV_PARTITION_ID_SELF,
    OID_GEN_CURRENT_PACKET_FILTER,
    PAGE_SIZE,
    PRD_LAST,
    PROBES,
    Attack,
    AttackActor,
    BeginProbe,
    EndProbe,
    HvCallCode,
    HypercallInput,
    InjectDriver,
    Leak,
    LoadDriver,
    PortIo,
    RawHypercall,
    Read,
    WaitUntil,
    Write,
    children_booted,
    disk_io,
    hookimpl,
    ide_command,
    pack,
    rndis_request,
    run_probe,
    set_request,
)
from hvlab.api import Protection as P

__version__ = "0.1.0"


def _probe_attack(name: str, *breach_sets: set[P]) -> Attack:
    probe = PROBES[name]

    def program(actor):
        yield WaitUntil(children_booted, "both guests booted")
        yield from run_probe(name, actor)

    return Attack(
        name=name,
        summary=probe.description,
        workload="boot",
        breach_sets=tuple(frozenset(p.value for p in s) for s in breach_sets),
        actors=lambda: [AttackActor(f"{probe.partition}.malware", probe.partition, program)],
    )


def _root_driver_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("root-driver-reads-guest", ROOT_DRIVER_SUMMARY)
    frame = yield Leak("B-secret")
    yield Read(frame * PAGE_SIZE, 16)  # the root's identity map reaches every guest frame
    yield EndProbe()


ROOT_DRIVER_SUMMARY = (
    "a third-party driver in the root reads guest B's memory: the honest limit — the root is in "
    "every guest's trusted computing base, so no protection here stops it"
)

MITM_SUMMARY = (
    "a vendor driver loaded into the hypervisor reads the frames B sends A — possible only in a "
    "monolithic design: it must get into the hypervisor (a loader, or the maintenance "
    "interface) and the frames must pass through it"
)


def _mitm_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("mitm-driver", MITM_SUMMARY)
    installed = yield LoadDriver("mitm", "hypervisor")
    if not installed:
        yield InjectDriver("mitm")  # no loader: try the maintenance interface instead
    yield EndProbe()


@hookimpl
def hvlab_site_vmbus_packet(ctx):
    if ctx.driver == "mitm":
        ctx.observe()


DIRECT_IO_SUMMARY = (
    "guest A programs the disk controller's ports to read the sector where B keeps its keys"
)


def _direct_io_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("direct-device-io", DIRECT_IO_SUMMARY)
    lba = 64 + 5  # B's block 5 as a physical LBA: the attacker knows the disk's layout
    yield from ide_command(ATA_READ_SECTORS, lba)
    yield PortIo(0x1F0, size=512)
    yield EndProbe()


FORGED_GPA_SUMMARY = (
    "guest A sends the storage VSP a write whose buffer list names B's secret frame as if it "
    "were one of A's pages"
)


def _forged_gpa_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("forged-gpa-list", FORGED_GPA_SUMMARY)
    frame = yield Leak("B-secret")
    yield from disk_io(actor, CDB_WRITE, lba=10, buffer_page=frame, wait=False)
    yield EndProbe()


DMA_SUMMARY = (
    "a driver in the root programs the disk controller's bus master to DMA a sector over "
    "hypervisor code: no CPU, no second-level map — only the IOMMU, and what the root's own map "
    "leaves out of its reach, stand in the way"
)
PRD_PAGE = 0x60  # a page of the root's own RAM, below the frames it lends to VMs


def _dma_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("dma-into-hypervisor", DMA_SUMMARY)
    target = DEFAULT_LAYOUT.hv_code.start * PAGE_SIZE
    # one PRD entry: base address u32, byte count u16, flags u16 (bit 15: the last entry)
    prd = PRD_PAGE * PAGE_SIZE
    yield Write(
        prd,
        target.to_bytes(4, "little") + (512).to_bytes(2, "little") + PRD_LAST.to_bytes(2, "little"),
    )
    yield from ide_command(ATA_READ_DMA, 0)
    yield PortIo(BM_PRD, prd.to_bytes(4, "little"))
    yield PortIo(BM_COMMAND, bytes([BM_START | BM_TO_MEMORY]))
    yield EndProbe()


RNDIS_OID_SUMMARY = (
    "CVE-2021-28476's class: guest A sends the virtual switch an RNDIS SET request whose info "
    "buffer offset points far past the message; a switch that does not check it reads where the "
    "offset points, faults, and stops switching for every guest"
)


def _rndis_oid_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("rndis-oid-offset", RNDIS_OID_SUMMARY)
    value = (0x0B).to_bytes(4, "little")  # a packet filter, at an offset no request should name
    yield from rndis_request(
        actor, set_request(OID_GEN_CURRENT_PACKET_FILTER, value, info_buf_offset=0x7FFF0000)
    )
    yield EndProbe()


VP_FRAME_SUMMARY = (
    "CVE-2013-3898's class: guest A passes HvCallGetVpRegisters a crafted rep start index, 768, "
    "with its output on its last page; a handler that does not bound the output list writes the "
    "register three pages on, onto the frame the hypervisor took from B's pool for B's virtual "
    "processor"
)
VP_FRAME_REP_START = 768  # 768 x 16 bytes = 0x3000: three pages past the output page


def _vp_frame_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("vp-frame-overwrite", VP_FRAME_SUMMARY)
    reps = VP_FRAME_REP_START + 1  # one register, at the crafted index
    out_gpa = (CHILDREN[0].ram_pages - 1) * PAGE_SIZE  # A's last RAM page
    names = b"".join(pack(0x0002_0010) for _ in range(reps))  # HvX64RegisterRip
    value = HypercallInput.encode(
        HvCallCode.GET_VP_REGISTERS, rep_count=reps, rep_start=VP_FRAME_REP_START
    )
    header = pack(HV_PARTITION_ID_SELF, 0)  # this partition, VP 0
    yield RawHypercall(value, GUEST_INPUT_PAGE * PAGE_SIZE, out_gpa, header + names)
    yield EndProbe()


MALFORMED_IO_SUMMARY = (
    "CVE-2010-0026's class: guest A runs an IN whose decoded access size is 3 bytes, which no "
    "IN or OUT encodes; a hypervisor that does not validate what it decodes at the intercept "
    "acts on it, faults and stops"
)


def _malformed_io_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("malformed-port-io", MALFORMED_IO_SUMMARY)
    yield PortIo(0x1F7, size=3)  # the IDE status port, intercepted to A's worker
    yield EndProbe()


ATTACKS = [
    _probe_attack("hv-read", {P.SEPARATE_ADDRESS_SPACES}),
    _probe_attack("hv-patch", {P.SEPARATE_ADDRESS_SPACES}, {P.HYPERCALL_ONLY_ACCESS}),
    _probe_attack("guest-snoop", {P.EXCLUSIVE_GUEST_MEMORY}),
    _probe_attack("privileged-hypercall", {P.HYPERCALL_ONLY_ACCESS}),
    _probe_attack("malformed-rep", {P.SDL_INPUT_VALIDATION}),
    Attack(
        name="root-driver-reads-guest",
        summary=ROOT_DRIVER_SUMMARY,
        workload="boot",
        breach_sets=(frozenset(),),  # breached under every design
        actors=lambda: [AttackActor("root.driver:reader", "root", _root_driver_program)],
    ),
    Attack(
        name="mitm-driver",
        summary=MITM_SUMMARY,
        workload="ping",
        breach_sets=(
            frozenset({P.NO_THIRD_PARTY_CODE.value, P.GUEST_TRAFFIC_VIA_ROOT.value}),
            frozenset({P.HYPERCALL_ONLY_ACCESS.value, P.GUEST_TRAFFIC_VIA_ROOT.value}),
        ),
        actors=lambda: [AttackActor("root.installer", "root", _mitm_program)],
        drivers=("mitm",),
    ),
    Attack(
        name="rndis-oid-offset",
        summary=RNDIS_OID_SUMMARY,
        workload="boot",
        breach_sets=(frozenset({P.VSP_VALIDATES_INPUT.value}),),  # unavailable counts as through
        actors=lambda: [AttackActor("A.malware", "A", _rndis_oid_program)],
        tags=("CVE-2021-28476",),
    ),
    Attack(
        name="direct-device-io",
        summary=DIRECT_IO_SUMMARY,
        workload="boot",
        breach_sets=(frozenset({P.MEDIATED_IO.value}),),
        actors=lambda: [AttackActor("A.malware", "A", _direct_io_program)],
    ),
    Attack(
        name="dma-into-hypervisor",
        summary=DMA_SUMMARY,
        workload="disk-read",
        breach_sets=(
            frozenset({P.IOMMU_DMA_PROTECTION.value}),
            frozenset({P.SEPARATE_ADDRESS_SPACES.value}),
        ),
        actors=lambda: [AttackActor("root.driver:dma", "root", _dma_program)],
    ),
    Attack(
        name="forged-gpa-list",
        summary=FORGED_GPA_SUMMARY,
        workload="boot",
        breach_sets=(frozenset({P.VSP_VALIDATES_INPUT.value}),),
        actors=lambda: [AttackActor("A.malware", "A", _forged_gpa_program)],
    ),
    Attack(
        name="vp-frame-overwrite",
        summary=VP_FRAME_SUMMARY,
        workload="boot",
        breach_sets=(frozenset({P.SDL_INPUT_VALIDATION.value}),),
        actors=lambda: [AttackActor("A.malware", "A", _vp_frame_program)],
        tags=("CVE-2013-3898",),
    ),
    Attack(
        name="malformed-port-io",
        summary=MALFORMED_IO_SUMMARY,
        workload="boot",
        breach_sets=(frozenset({P.SDL_INPUT_VALIDATION.value}),),  # unavailable counts as through
        actors=lambda: [AttackActor("A.malware", "A", _malformed_io_program)],
        tags=("CVE-2010-0026",),
    ),
]


@hookimpl
def hvlab_register_attacks(register):
    for attack in ATTACKS:
        register(attack)
