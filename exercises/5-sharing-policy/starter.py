"""hvlab exercise sharing-policy: the root memory manager's sharing policy.

Check it with:  hvlab exercise check sharing-policy THIS-FILE
"""


def check_share(child, frame, mapped_in):
    """The root's memory manager (in the VID) is about to map system frame `frame` into the
    child partition `child` (its name, e.g. "A"), with HvCallMapGpaPages — for the child's RAM
    at boot, or to back a page the child touched when no free frame is left (overcommit).

    child      the name of the partition the frame is for
    frame      the system frame number
    mapped_in  a frozenset of the names of the OTHER guests whose maps already point at it

    Return None to map it, or a string saying why not (the memory manager refuses).
    """
    # The failing behaviour: any frame is handed out, whoever else it backs: a guest whose
    # memory runs out is given a frame of another guest's, and reads what that guest wrote.
    return None
