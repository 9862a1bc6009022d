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

# The version of the model's behaviour. A trace file records it: the same run under another
# model version is another run, so a file from one cannot be replayed by the other.
#   1  hvlab 0.1: the model's own message layouts
#   2  the real wire formats (TLFS hypercall blocks, VMBus channel messages, vstor, NVSP,
#      RNDIS), the root's pool deposits, SynIC set-up, storvsc/netvsc handshakes
#   3  the worker loads each child's kernel page, B loads a library page (a canary), and the
#      root's memory manager combines identical pages when it is out of frames; offers are drawn
#      from the VMBus server to the guest they go to
MODEL_VERSION = 3
