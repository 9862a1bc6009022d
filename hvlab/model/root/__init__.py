"""The root partition, the host OS that holds the drivers and the virtualization stack: the
VID and memory manager that lend frames to children and answer their memory intercepts, the
storage VSP and the root's disk driver, the virtual switch, the VMBus server, the worker
processes that emulate each VM's devices, driver loading and the sites where a loaded driver
acts, and the root's boot program that creates its children."""
