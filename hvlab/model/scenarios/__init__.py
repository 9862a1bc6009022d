"""What runs on the machine: the workloads (boot, disk-read, disk-write, ping, ide-port-io,
memory-probe, busy), each a set of actors composed from the layers below, and the probes the
built-in attacks run."""
