"""hvlab exercise rep-output-bound: the bound on a rep hypercall's output list.

Check it with:  hvlab exercise check rep-output-bound THIS-FILE
"""


def check_output(output_gpa, rep_start, rep_count, element_size):
    """The hypervisor is about to run HvCallGetVpRegisters, a rep call: for each rep i from
    `rep_start` to `rep_count - 1` it writes one `element_size`-byte value at
    `output_gpa + i * element_size` in the caller's memory.

    output_gpa    the guest physical address of the caller's output list (an int)
    rep_start     the first rep to do (the input value's rep start index)
    rep_count     the number of reps in the list (the input value's rep count)
    element_size  the bytes of one element of the output list (16 for this call)

    Return None to let the call go on, or a string saying why it is refused (the caller gets
    HV_STATUS_INVALID_ALIGNMENT).
    """
    # The failing behaviour: no bound at all. A caller whose list runs past its page has the
    # hypervisor write into whatever frame follows it.
    return None
