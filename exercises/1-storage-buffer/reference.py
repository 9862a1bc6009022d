"""hvlab exercise storage-buffer: a reference solution."""

SECTOR = 512


def check_buffer(pages, byte_counts, sectors, guest_map):
    frames = []
    for page in pages:
        entry = guest_map.get(page)
        if entry is None or "w" not in entry[1]:
            return f"GPA page {page:#x} is not a page the sender may write"
        frames.append(entry[0])
    if sum(byte_counts) < sectors * SECTOR:
        return f"buffer of {sum(byte_counts)} bytes for {sectors} sectors"
    return frames
