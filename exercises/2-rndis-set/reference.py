"""hvlab exercise rndis-set: a reference solution."""


def check_set(message_length, header_size, info_offset, info_length):
    start = 8 + info_offset
    end = start + info_length
    if start < header_size or end > message_length:
        return f"info buffer {start}..{end} outside the message"
    return None
