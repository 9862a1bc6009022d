"""hvlab exercise instruction-decoder: a reference solution."""


def check_access(size):
    if size in (1, 2, 4) or size > 4:
        return None
    return f"no IN or OUT encodes a {size}-byte access"
