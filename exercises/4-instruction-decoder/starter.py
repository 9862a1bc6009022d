"""hvlab exercise instruction-decoder: the hypervisor's check of a decoded port access.

Check it with:  hvlab exercise check instruction-decoder THIS-FILE
"""


def check_access(size):
    """A child's IN or OUT exited to the hypervisor. Before it suspends the VP and builds the
    HvMessageTypeX64IoPortIntercept message for the root's worker process, it has decoded the
    access; in the model the access size stands for the decoded instruction.

    size  the number of bytes the decoded access moves (an int): an IN or OUT moves 1, 2 or
          4; the string form (rep insw / rep outsw) reaches the model as one access of more
          than 4 bytes

    Return None to let the intercept go on, or a string saying why the instruction is refused
    (the guest gets #UD, invalid opcode).
    """
    # The failing behaviour: whatever was decoded is used. A size no instruction encodes
    # reaches the intercept path, which faults — and a fault in the hypervisor stops the host.
    return None
