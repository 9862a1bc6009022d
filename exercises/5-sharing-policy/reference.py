"""hvlab exercise sharing-policy: a reference solution."""


def check_share(child, frame, mapped_in):
    if mapped_in:
        return f"frame {frame:#x} already backs {', '.join(sorted(mapped_in))}"
    return None
