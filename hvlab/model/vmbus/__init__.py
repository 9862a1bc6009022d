"""What the root and each guest share, and the only way their code meets besides hypercalls:
VMBus ring buffers, the channel control protocol (offers, GPADLs, open and close, the ring
pages of each channel), and the storage and network protocols carried on channels."""
