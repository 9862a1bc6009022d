"""The microkernel hypervisor: the TLFS's constants with their real values, second-level
address translation and frame ownership, partitions and their VPs, the machine as the
hypervisor runs it (a partition's loads and stores, synthetic MSRs, intercepts routed to the
parent), the hypercall interface (its binary interface, validation and dispatch, and the call
handlers), the SynIC's messages and events, and the port I/O intercept path."""
