"""hvlab exercise rep-output-bound: a reference solution."""

PAGE = 4096


def check_output(output_gpa, rep_start, rep_count, element_size):
    if output_gpa % PAGE + rep_count * element_size > PAGE:
        return "output list spans pages"
    return None
