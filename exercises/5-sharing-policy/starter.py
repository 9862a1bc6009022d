"""hvlab exercise sharing-policy: the root memory manager's sharing policy.

Check it with:  hvlab exercise check sharing-policy THIS-FILE
"""


def check_share(child, frame, mapped_in):
    """The root's memory manager (in the VID) is about to map system frame `frame` into the
    child partition `child` (its name, e.g. "A"), with HvCallMapGpaPages — for the child's RAM
    at boot, for a page the root maps on purpose, or — out of frames — to combine one of the
    child's pages with an identical page on a frame another guest uses (page combining).

    child      the name of the partition the frame is for
    frame      the system frame number
    mapped_in  a frozenset of the names of the OTHER guests whose maps already point at it

    Return None to map it, or a string saying why not (the memory manager refuses).
    """
    # The failing behaviour: any frame is handed out, whoever else it backs: out of frames,
    # pages of different guests are combined onto one, and a guest that writes to its combined
    # page waits for the copy — and so learns which page the other guest holds.
    return None
