"""hvlab exercise rndis-set: the virtual switch's check of an RNDIS SET request.

Check it with:  hvlab exercise check rndis-set THIS-FILE
"""


def check_set(message_length, header_size, info_offset, info_length):
    """The virtual switch (vmswitch, in the root) got an RNDIS SET_MSG from a guest's network
    driver: it sets one property (an OID) of the virtual adapter to a value that lies inside
    the message, at an offset the guest wrote.

    message_length  the message's length field: the bytes the message says it has
    header_size     the size of the SET request's fixed fields (type, length, request id, OID,
                    info length, info offset, device handle): the value comes after them
    info_offset     where the value starts, counted from the request id — that is, 8 bytes
                    into the message (after the type and length fields)
    info_length     the value's length in bytes

    Return None to read the value and set the OID, or a string saying why the request is
    refused (the guest gets RNDIS_STATUS_INVALID_DATA).
    """
    # The failing behaviour: the offset and length are believed. A request whose offset points
    # far past the message makes the switch read where it points; past its memory, the switch
    # faults and stops switching for every guest (CVE-2021-28476's class).
    return None
