"""The I/O path end to end: each workload works with every protection on, its data never passes
through the hypervisor under `hyperv`, and each I/O protection switches a real mechanism."""

from itertools import pairwise

import pytest

from hvlab.lab import Lab
from hvlab.model.core import topology
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Design
from hvlab.model.hardware import devices
from hvlab.model.root import storage
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import Device
from tests.helpers import booted, guest_submit, relid, srb_packet

IO_WORKLOADS = ["disk-read", "disk-write", "ping", "ide-port-io"]
DATA_KINDS = (EventKind.MEMORY, EventKind.VSP, EventKind.DEVICE)


def hypervisor_nodes(design: Design) -> set[str]:
    return {n.id for n in topology.build(design).nodes if n.layer == "hypervisor"}


@pytest.mark.parametrize("workload", IO_WORKLOADS)
def test_workload_completes_with_every_protection_on(workload):
    lab = Lab(workload)
    outcome = lab.run()
    assert outcome.completed and outcome.result == "ok" and not outcome.breaches
    hv = hypervisor_nodes(lab.design)
    for ev in lab.events:
        if ev.kind in DATA_KINDS:
            assert not hv & set(ev.path), (ev.step, ev.actor, ev.name, ev.path)


def reads_by(lab: Lab, actor: str) -> list[bytes]:
    return [
        bytes.fromhex(e.detail_dict()["bytes"])
        for e in lab.events
        if e.kind is EventKind.MEMORY and e.actor == actor and e.name == "read"
    ]


def test_disk_read_full_sequence_with_real_numbers():
    lab = Lab("disk-read")
    lab.run()
    srbs = [e for e in lab.events if e.name == "execute-srb"]
    done = [e for e in lab.events if e.name == "complete-io"]
    assert len(srbs) == 2 and len(done) == 2
    first = srbs[0].detail_dict()
    assert first["packet_type"] == 0x9 and first["operation"] == 3 and first["cdb"] == 0x28
    assert done[0].detail_dict()["packet_type"] == 0xB and done[0].detail_dict()["operation"] == 1
    assert (
        srbs[0].path == ("A.storvsc", "A.storage-channel", "root.storvsp", "root.disk", "hw.disk")
        or srbs[0].path[0] == "B.storvsc"
    )
    order = [
        e.name
        for e in lab.events
        if e.name in ("srb", "execute-srb", "read-sectors", "dma-write", "complete-io")
    ]
    assert order[:5] == ["srb", "execute-srb", "read-sectors", "dma-write", "complete-io"]
    signals = [e for e in lab.events if e.name == "HvCallSignalEvent" and e.phase == "complete"]
    assert signals, "both sides signal through the hypervisor"


def test_disk_write_then_read_back():
    lab = Lab("disk-write")
    lab.run()
    assert lab.state.get(("sector", 7)).startswith(b"written by A")
    assert any(
        b"written by A".hex() in e.detail_dict().get("bytes", "")
        for e in lab.events
        if e.actor == "A" and e.name == "read"
    )


def test_ping_crosses_root_components_only_under_hyperv():
    lab = Lab("ping")
    lab.run()
    switched = [e for e in lab.events if e.name == "switch-frame"]
    assert [e.detail_dict()["to"] for e in switched] == ["B", "A"]
    assert switched[0].path == (
        "A.netvsc",
        "A.net-channel",
        "root.vswitch",
        "B.net-channel",
        "B.netvsc",
    )
    assert all(e.actor == "root.vswitch" for e in switched)


def test_ping_crosses_the_hypervisor_when_monolithic():
    lab = Lab("ping", Design.preset("monolithic"))
    outcome = lab.run()
    assert outcome.result == "ok"
    switched = [e for e in lab.events if e.name == "switch-frame"]
    assert switched and all("hypervisor.vswitch" in e.path for e in switched)
    copies = [
        e
        for e in lab.events
        if e.kind is EventKind.MEMORY
        and e.actor == "hypervisor.vswitch"
        and set(e.detail_dict()["frames"]) <= set(lab._machine.layout.hv_data)
    ]
    assert copies, "frames are copied through hypervisor memory"


def test_ide_port_io_goes_through_the_worker_process():
    lab = Lab("ide-port-io")
    lab.run()
    emulated = [e for e in lab.events if e.actor == "root.vmwp-A"]
    assert emulated and all(e.protection is None for e in emulated)
    intercepts = [e for e in lab.events if e.name == "HvMessageTypeX64IoPortIntercept"]
    assert intercepts and intercepts[0].status == 0x80010000
    assert lab.state.get(("sector", devices.VIRTUAL_DISKS["A"].first + 9)).startswith(b"via IDE")
    data = [e for e in lab.events if e.name == "emulate-in" and e.detail_dict()["size"] == 512]
    assert bytes.fromhex(data[0].detail_dict()["bytes"]).startswith(b"A's files")


def test_without_mediated_io_the_guest_drives_the_physical_controller():
    lab = Lab("ide-port-io", Design.build("hyperv", ["mediated-io"]))
    lab.run()
    assert not [e for e in lab.events if e.actor == "root.vmwp-A"]
    direct = [e for e in lab.events if e.kind is EventKind.DEVICE and e.actor == "A"]
    assert direct and all(e.path == ("A.kernel", "hw.disk") for e in direct)
    # The physical controller's LBA 3 is A's sector 3 (A's disk starts at 0), so this still
    # reads A's data; what changed is who drives the hardware.
    assert lab.outcome.result == "ok"


def test_emulator_keeps_a_guest_inside_its_own_disk():
    m = booted()
    from hvlab.model.hypervisor.portio import port_io

    lba = devices.VIRTUAL_DISKS["B"].first + 5  # B's secret block, as a physical LBA
    for port, value in (
        (0x1F2, 1),
        (0x1F3, lba & 0xFF),
        (0x1F4, 0),
        (0x1F5, 0),
        (0x1F6, 0xE0),
        (0x1F7, devices.ATA_READ_SECTORS),
    ):
        port_io(m, 2, port, bytes([value]), 1, "A")
    refused = [e for e in m.events if e.protection == "mediated-io"]
    assert refused and "outside the disk" in refused[0].detail_dict()["effect"]
    assert port_io(m, 2, 0x1F0, None, 512, "A") == bytes(512)


def test_driver_loader_exists_only_without_no_third_party_code():
    from hvlab.model.root.drivers import load_driver
    from hvlab.model.root.sites import loaded

    m = booted()
    assert not load_driver(m, "root", "vendor-filter", "hypervisor")
    assert m.events[-1].protection == "no-third-party-code" and loaded(m, "hypervisor") == []
    m = booted("no-third-party-code")
    assert load_driver(m, "root", "vendor-filter", "hypervisor")
    assert loaded(m, "hypervisor") == ["vendor-filter"]
    assert load_driver(booted(), "root", "filter", "root")  # the root's own drivers: always


def test_double_fetch_the_vsp_acts_on_its_private_copy():
    from hvlab.model.root import vsp

    for off, expect_lba in (((), 3), (("vsp-validates-input",), 69)):
        m = booted(*off)
        r = relid(m, "A", Device.STORAGE)
        guest_submit(m, "A", Device.STORAGE, srb_packet(lba=3))
        n = len(m.events)
        packet = vsp.fetch(m, storage.VSP, r, ("test",))
        assert packet is not None, [(e.name, e.detail) for e in m.events[n:]]
        # Between the check and the use, the guest rewrites the LBA in its own ring: the
        # big-endian logical block address at byte 2 of the CDB, which sits at byte 28 of the
        # vstor_packet.
        out_ring, _ = __import__("hvlab.model.vmbus.channels", fromlist=["rings"]).rings(
            m, r, "guest"
        )
        lba_at = packet.start + packet.desc.offset8 * 8 + 28 + 2
        m.write(2, out_ring.data + lba_at, (69).to_bytes(4, "big"), "A")
        storage.handle(m, r, "A", packet)
        used = [e for e in m.events if e.name == "execute-srb"][-1].detail_dict()["lba"]
        assert used == expect_lba, off


def test_export_formats_are_valid():
    import json

    import networkx as nx
    import pydot

    for design in (Design.preset("hyperv"), Design.preset("monolithic")):
        (graph,) = pydot.graph_from_dot_data(topology.to_dot(design))
        names = {n.get_name().strip('"') for n in graph.get_nodes()}
        assert {"root.storvsp", "root.vmwp-A", "root.vmwp-B"} <= names
        assert ("root.vswitch" in names) == (design.label == "hyperv")
        for node in graph.get_nodes():
            if node.get_name().strip('"') in {"root.storvsp", "hypervisor"}:
                assert node.get("layer")
        back = nx.node_link_graph(json.loads(json.dumps(topology.to_json(design))), edges="edges")
        assert set(back.nodes) == {n.id for n in topology.build(design).nodes}
        mermaid = topology.to_mermaid(design).splitlines()
        assert mermaid[0] == "flowchart TB"
        assert mermaid.count("  end") == sum(
            1
            for layer in topology.LAYERS
            if any(n.layer == layer for n in topology.build(design).nodes)
        )


def test_routes_match_networkx_shortest_paths():
    import networkx as nx

    for design in (
        Design.preset("hyperv"),
        Design.preset("monolithic"),
        Design.build("hyperv", ["mediated-io"]),
    ):
        graph = topology.to_networkx(design)
        for flow, src, dst in (
            ("storage", "A.storvsc", "hw.disk"),
            ("network", "A.netvsc", "B.netvsc"),
            ("port-io", "A.kernel", "hw.disk"),
        ):
            sub = nx.Graph((a, b) for a, b, f in graph.edges(data="flows") if flow in f.split(","))
            ours = topology.route(design, flow, src, dst)
            assert len(ours) == nx.shortest_path_length(sub, src, dst) + 1
            assert all(sub.has_edge(a, b) for a, b in pairwise(ours))


def test_signal_only_on_empty_to_non_empty():
    m = booted()
    r = relid(m, "A", Device.STORAGE)
    out_ring, _ = __import__("hvlab.model.vmbus.channels", fromlist=["rings"]).rings(m, r, "guest")
    first = rings.write(m, out_ring, "A", srb_packet(lba=1, trans_id=1))
    second = rings.write(m, out_ring, "A", srb_packet(lba=2, trans_id=2))
    assert first == (True, True) and second == (True, False)


def test_a_long_queue_is_served_in_budgeted_rounds():
    from hvlab.model.root import vsp

    m = booted()
    # 36 packets of 104 bytes fill most of the 4 KiB ring; ids the guest has not used
    for tid in range(0x1001, 0x1025):
        assert guest_submit(m, "A", Device.STORAGE, srb_packet(lba=tid % 8, trans_id=tid))
    storage.service(m)
    assert len([e for e in m.events if e.name == "complete-io"]) == vsp.BUDGET
    assert [e for e in m.events if e.name == "yield"]
    storage.service(m)  # the VSP's re-raised flag brings it back for the rest
    assert len([e for e in m.events if e.name == "complete-io"]) == 36
