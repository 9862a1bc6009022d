"""The physical machine below the hypervisor: the disk, its sectors and each VM's virtual
disk on them, and the IDE controller a driver programs through I/O ports."""
