"""The architecture as a graph: components, the layer and trust boundary of each, and the flows
each connection carries — under a given design.

One edge list is the single source: routes for events are found on it by a small breadth-first
search (so `hvlab run` never pays for importing networkx), and `to_networkx` builds the same
graph for export and analysis, importing networkx only then.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from hvlab.model.core.protections import Design, Protection

LAYERS = ("hypervisor", "root-kernel", "root-user", "child", "hardware")


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    layer: str
    boundary: str  # whose trust domain: hypervisor, root, a child's name, hardware
    label: str


@dataclass(frozen=True, slots=True)
class Edge:
    a: str
    b: str
    flows: frozenset[str]


@dataclass(frozen=True, slots=True)
class Topology:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def layer_of(self, node_id: str) -> str | None:
        for n in self.nodes:
            if n.id == node_id:
                return n.layer
        return None


# The protections the architecture's shape depends on. The graph is built from these alone,
# each asked through Design.is_on, so whoever records what a run consulted sees them.
SHAPING = (
    Protection.GUEST_TRAFFIC_VIA_ROOT.value,
    Protection.NO_THIRD_PARTY_CODE.value,
    Protection.MEDIATED_IO.value,
)


def _shaping_off(design: Design) -> frozenset[str]:
    return frozenset(p for p in SHAPING if not design.is_on(p))


def build(design: Design, children: tuple[str, ...] = ("A", "B")) -> Topology:
    return _build(_shaping_off(design), children)


@lru_cache(maxsize=64)
def _build(off: frozenset[str], children: tuple[str, ...]) -> Topology:
    on = lambda p: p.value not in off  # noqa: E731 - a local shorthand
    switch = "root.vswitch" if on(Protection.GUEST_TRAFFIC_VIA_ROOT) else "hypervisor.vswitch"
    nodes = [
        Node("hypervisor", "hypervisor", "hypervisor", "hypervisor (microkernel)"),
        Node("root.kernel", "root-kernel", "root", "root kernel"),
        Node("root.vid", "root-kernel", "root", "VID and memory manager"),
        Node("root.vmbus", "root-kernel", "root", "VMBus server"),
        Node("root.storvsp", "root-kernel", "root", "storage VSP"),
        Node("root.disk", "root-kernel", "root", "disk driver"),
        Node("hw.ram", "hardware", "hardware", "RAM"),
        Node("hw.disk", "hardware", "hardware", "disk controller"),
    ]
    if switch == "root.vswitch":
        nodes.append(Node(switch, "root-kernel", "root", "virtual switch (vmswitch)"))
    else:
        nodes.append(Node(switch, "hypervisor", "hypervisor", "virtual switch, in the hypervisor"))
    if not on(Protection.NO_THIRD_PARTY_CODE):
        nodes.append(
            Node(
                "hypervisor.driver-loader",
                "hypervisor",
                "hypervisor",
                "driver loader (third-party code)",
            )
        )
    edges = [
        ("root.kernel", "hypervisor", {"hypercall"}),
        ("root.kernel", "root.vid", {"control"}),
        ("root.kernel", "root.vmbus", {"control"}),
        ("root.kernel", "root.storvsp", {"control"}),
        ("root.kernel", switch, {"control"}) if switch == "root.vswitch" else None,
        ("root.vid", "hypervisor", {"hypercall", "intercept", "port-io"}),
        ("root.vmbus", "hypervisor", {"hypercall", "message"}),
        ("root.storvsp", "hypervisor", {"signal"}),
        (switch, "hypervisor", {"signal"}) if switch == "root.vswitch" else None,
        ("root.storvsp", "root.disk", {"storage"}),
        ("root.disk", "hw.disk", {"storage", "port-io"}),
        ("root.kernel", "hw.ram", {"memory"}),
        ("hypervisor", "hw.ram", {"memory"}),
    ]
    if not on(Protection.NO_THIRD_PARTY_CODE):
        edges.append(("hypervisor", "hypervisor.driver-loader", {"control"}))
    for c in children:
        nodes += [
            Node(f"{c}.kernel", "child", c, f"{c} kernel"),
            Node(f"{c}.storvsc", "child", c, f"{c} storvsc"),
            Node(f"{c}.netvsc", "child", c, f"{c} netvsc"),
            Node(f"{c}.storage-channel", "child", c, f"{c} storage channel (rings in {c}'s pages)"),
            Node(f"{c}.net-channel", "child", c, f"{c} network channel (rings in {c}'s pages)"),
            Node(f"root.vmwp-{c}", "root-user", "root", f"worker process for {c}"),
        ]
        edges += [
            (f"{c}.kernel", "hypervisor", {"hypercall", "intercept", "port-io", "message"}),
            (f"{c}.kernel", f"{c}.storvsc", {"storage"}),
            (f"{c}.kernel", f"{c}.netvsc", {"network"}),
            (f"{c}.kernel", "hw.ram", {"memory"}),
            (f"{c}.storvsc", f"{c}.storage-channel", {"storage"}),
            (f"{c}.storage-channel", "root.storvsp", {"storage"}),
            (f"{c}.storvsc", "hypervisor", {"signal"}),
            (f"{c}.netvsc", f"{c}.net-channel", {"network"}),
            (f"{c}.net-channel", switch, {"network"}),
            (f"{c}.netvsc", "hypervisor", {"signal"}),
            ("root.vid", f"root.vmwp-{c}", {"port-io", "intercept"}),
            (f"root.vmwp-{c}", "root.disk", {"port-io"}),
        ]
        if not on(Protection.MEDIATED_IO):
            edges.append((f"{c}.kernel", "hw.disk", {"port-io"}))
    return Topology(
        tuple(nodes), tuple(Edge(a, b, frozenset(f)) for a, b, f in filter(None, edges))
    )


def route(design: Design, flow: str, src: str, dst: str) -> tuple[str, ...]:
    """The shortest path from src to dst over edges that carry `flow` (ties broken by name)."""
    return _route(_shaping_off(design), flow, src, dst)


@lru_cache(maxsize=1024)
def _route(off: frozenset[str], flow: str, src: str, dst: str) -> tuple[str, ...]:
    topo = _build(off, ("A", "B"))
    adjacent: dict[str, list[str]] = {}
    for e in topo.edges:
        if flow in e.flows:
            adjacent.setdefault(e.a, []).append(e.b)
            adjacent.setdefault(e.b, []).append(e.a)
    previous: dict[str, str | None] = {src: None}
    queue = deque([src])
    while queue:
        here = queue.popleft()
        if here == dst:
            break
        for nxt in sorted(adjacent.get(here, ())):
            if nxt not in previous:
                previous[nxt] = here
                queue.append(nxt)
    if dst not in previous:
        return ()
    out = [dst]
    while (back := previous[out[-1]]) is not None:
        out.append(back)
    return tuple(reversed(out))


def crossings(design: Design, path: tuple[str, ...]) -> list[tuple[str, str]]:
    """The trust-boundary crossings along a path."""
    topo = build(design)
    bounds = {n.id: n.boundary for n in topo.nodes}
    return [(a, b) for a, b in pairwise(path) if bounds.get(a) != bounds.get(b)]


def to_networkx(design: Design, children: tuple[str, ...] = ("A", "B")):
    import networkx as nx

    topo = build(design, children)
    graph = nx.Graph(design=design.label)
    for n in topo.nodes:
        graph.add_node(n.id, layer=n.layer, boundary=n.boundary, label=n.label)
    for e in topo.edges:
        graph.add_edge(e.a, e.b, flows=",".join(sorted(e.flows)))
    return graph


def to_dot(design: Design) -> str:
    """Graphviz DOT, written by networkx's pydot bridge; nodes are clustered by layer."""
    import networkx as nx

    graph = to_networkx(design)
    dot = nx.nx_pydot.to_pydot(graph)
    import pydot

    for layer in LAYERS:
        cluster = pydot.Cluster(layer.replace("-", "_"), label=layer)
        for node, data in graph.nodes(data=True):
            if data["layer"] == layer:
                cluster.add_node(pydot.Node(f'"{node}"'))
        dot.add_subgraph(cluster)
    dot.set_name("hvlab")
    return dot.to_string()


def to_mermaid(design: Design) -> str:
    topo = build(design)
    ids = {n.id: f"n{i}" for i, n in enumerate(topo.nodes)}
    lines = ["flowchart TB"]
    for layer in LAYERS:
        members = [n for n in topo.nodes if n.layer == layer]
        if not members:
            continue
        lines.append(f'  subgraph {layer.replace("-", "_")}["{layer}"]')
        lines += [f'    {ids[n.id]}["{n.id}: {n.label}"]' for n in members]
        lines.append("  end")
    for e in topo.edges:
        lines.append(f"  {ids[e.a]} ---|{' '.join(sorted(e.flows))}| {ids[e.b]}")
    return "\n".join(lines) + "\n"


def to_json(design: Design) -> dict:
    import networkx as nx

    return nx.node_link_data(to_networkx(design), edges="edges")
