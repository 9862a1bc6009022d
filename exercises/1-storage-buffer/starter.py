"""hvlab exercise storage-buffer: the storage VSP's check of a request's buffer list.

Check it with:  hvlab exercise check storage-buffer THIS-FILE
"""


def check_buffer(pages, byte_counts, sectors, guest_map):
    """The storage VSP (storvsp, in the root) is about to move `sectors` sectors of 512 bytes
    between the disk and the buffer a guest named in its request.

    pages        the buffer list: the GPA page numbers the guest wrote, a tuple of ints
    byte_counts  how many bytes of each page the request uses, a tuple of ints (same length)
    sectors      how many sectors the request moves
    guest_map    the SENDER's second-level map, read-only: {GPA page: (system frame, rights)},
                 rights a string such as "rw" or "rwx"

    Return the system frame number of each page, as a list (same order as `pages`), for the
    VSP to move the data to or from — or a string saying why the request is refused.
    """
    # The failing behaviour: the page numbers are believed as system frames. A guest that
    # writes another guest's frame number into its buffer list gets that frame's contents.
    return list(pages)
