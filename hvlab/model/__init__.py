"""The pure, deterministic model of a Hyper-V style machine. No UI, plugin or I/O imports.

One package per layer of the machine, each importing only the ones below it (a test checks):

    system.py    the machine the lab runs: the hypervisor's, with the root's stack attached
    scenarios/   workloads and the probes attacks run
    root/  guest/  the root partition and a child's kernel (they meet only through vmbus)
    vmbus/       rings, the channel protocol, the storage and network protocols
    hypervisor/  the microkernel: SLAT, partitions, hypercalls, SynIC, intercepts
    hardware/    the disk and its controller
    core/        store, events, protections, oracle, topology, layout, engine
"""
