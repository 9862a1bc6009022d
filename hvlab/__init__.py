"""hvlab: a terminal lab for learning how a Hyper-V style hypervisor isolates partitions."""

__version__ = "0.1.0"
