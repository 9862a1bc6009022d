"""The physical disk, and an ATA (IDE) register file used two ways: as the physical controller
the root's disk driver owns, and as the controller each VM's worker process (VMWP) emulates
against that VM's own virtual disk.

The physical controller also masters the bus: after READ DMA (0xC8) or WRITE DMA (0xCA), the
driver writes the physical address of a PRD table — entries of base address u32, byte count
u16, flags u16 with bit 15 marking the last — to the bus-master PRD register and starts the
engine; the controller then moves the sectors to or from memory itself, with no CPU and no
second-level map on the way. Only the IOMMU (the hypervisor's, `iommu-dma-protection`) stands
between that transfer and any frame of the machine.

Store keys:
  ("sector", n) -> bytes                 a 512-byte sector of the physical disk (absent = zeros)
  ("ide", owner, register) -> value      owner is "hw" (the physical controller) or a child's name
"""

from __future__ import annotations

from dataclasses import dataclass

from hvlab.model.core.store import Store

SECTOR = 512
DISK_SECTORS = 256
IDE_BASE = 0x1F0
IDE_PORTS = tuple(range(0x1F0, 0x1F8))
IDE_CONTROL_PORTS = (0x3F6,)
ATA_READ_SECTORS = 0x20
ATA_WRITE_SECTORS = 0x30
ATA_READ_DMA, ATA_WRITE_DMA = 0xC8, 0xCA
STATUS_ERR, STATUS_DRQ, STATUS_DRDY = 0x01, 0x08, 0x40
# Bus-master IDE registers of the primary channel (at the PCI BAR4 base; the model fixes it).
BM_BASE = 0xC000
BM_COMMAND, BM_STATUS, BM_PRD = BM_BASE, BM_BASE + 2, BM_BASE + 4
BM_PORTS = (BM_COMMAND, BM_STATUS, BM_PRD)
BM_START, BM_TO_MEMORY = 0x01, 0x08  # command bits: start; direction: device → memory
PRD_ENTRY, PRD_LAST = 8, 0x8000


@dataclass(frozen=True, slots=True)
class DiskRegion:
    """A VM's virtual disk: a run of physical sectors (its VHD, in the model)."""

    first: int
    count: int


VIRTUAL_DISKS = {"A": DiskRegion(0, 64), "B": DiskRegion(64, 64)}


def read_sector(store: Store, n: int) -> bytes:
    return store.get(("sector", n), bytes(SECTOR))


def write_sector(store: Store, n: int, data: bytes) -> None:
    data = data[:SECTOR].ljust(SECTOR, b"\0")
    store.set(("sector", n), data if any(data) else None)


class Ide:
    """ATA PIO on ports 0x1F0-0x1F7: sector count (2), LBA (3-5, 6 low nibble), command/status
    (7), data (0). `region` maps the controller's LBAs onto physical sectors; None means the
    physical controller, which reaches every sector."""

    def __init__(self, store: Store, owner: str, region: DiskRegion | None) -> None:
        self.store, self.owner, self.region = store, owner, region

    def reg(self, name: str, default=0):
        return self.store.get(("ide", self.owner, name), default)

    def set(self, name: str, value) -> None:
        self.store.set(("ide", self.owner, name), value)

    def lba(self) -> int:
        return (
            self.reg("lba0")
            | self.reg("lba1") << 8
            | self.reg("lba2") << 16
            | (self.reg("drive") & 0x0F) << 24
        )

    def physical(self, lba: int) -> int | None:
        """The physical sector behind an LBA, or None if it is outside this controller's disk."""
        if self.region is None:
            return lba if 0 <= lba < DISK_SECTORS else None
        return self.region.first + lba if 0 <= lba < self.region.count else None

    def access(self, port: int, data: bytes | None, size: int):
        """One OUT (`data` given; returns what happened) or IN of `size` bytes (the bytes)."""
        return self.out(port, data) if data is not None else self.inp(port, size)

    def out(self, port: int, data: bytes) -> str:
        """A write to a port. Returns what happened, for the event."""
        if port in BM_PORTS:
            return self._bus_master_out(port, data)
        offset = port - IDE_BASE
        value = data[0] if data else 0
        if offset == 0:
            return self._data_out(data)
        names = {2: "count", 3: "lba0", 4: "lba1", 5: "lba2", 6: "drive"}
        if offset in names:
            self.set(names[offset], value)
            return f"{names[offset]}={value:#x}"
        if offset == 7:
            return self._command(value)
        return "ignored"

    def _bus_master_out(self, port: int, data: bytes) -> str:
        if self.region is not None:  # an emulated controller has no bus master in the model
            return "ignored (no bus master on the emulated controller)"
        if port == BM_PRD:
            address = int.from_bytes(data[:4].ljust(4, b"\0"), "little") & ~3
            self.set("prd", address)
            return f"PRD table at {address:#x}"
        if port == BM_COMMAND and data and data[0] & BM_START:
            ready = self.reg("dma_ready", None)
            if ready is None:
                return "bus master started with no DMA command"
            first, count, to_memory = ready
            if bool(data[0] & BM_TO_MEMORY) != to_memory:
                return "bus master direction does not match the command"
            self.set("dma_ready", None)
            self.set("dma_request", (first, count, to_memory, self.reg("prd", 0)))
            way = "to" if to_memory else "from"
            return f"bus master: sectors {first}..{first + count - 1} {way} memory"
        return "ignored"

    def take_dma_request(self):
        """The transfer the bus master was started on: (first sector, count, to memory, PRD
        table address), or None. Taking it clears it: the transfer happens once."""
        request = self.reg("dma_request", None)
        if request is not None:
            self.set("dma_request", None)
        return request

    def _command(self, command: int) -> str:
        lba, count = self.lba(), self.reg("count") or 256
        first, last = self.physical(lba), self.physical(lba + count - 1)
        if command in (ATA_READ_DMA, ATA_WRITE_DMA) and self.region is None:
            if first is None or last is None:
                self.set("status", STATUS_DRDY | STATUS_ERR)
                return f"LBA {lba}+{count} outside the disk"
            self.set("dma_ready", (first, count, command == ATA_READ_DMA))
            self.set("status", STATUS_DRDY)
            kind = "READ" if command == ATA_READ_DMA else "WRITE"
            return f"{kind} DMA of sectors {first}..{last}: waiting for the bus master"
        if command not in (ATA_READ_SECTORS, ATA_WRITE_SECTORS):
            self.set("status", STATUS_DRDY | STATUS_ERR)
            return f"unknown command {command:#x}"
        if first is None or last is None:
            self.set("status", STATUS_DRDY | STATUS_ERR)
            return f"LBA {lba}+{count} outside the disk"
        if command == ATA_READ_SECTORS:
            buf = b"".join(read_sector(self.store, first + i) for i in range(count))
            self.set("buf", buf)
            self.set("pending_write", None)
        else:
            self.set("buf", b"")
            self.set("pending_write", (first, count))
        self.set("status", STATUS_DRDY | STATUS_DRQ)
        return f"{'read' if command == ATA_READ_SECTORS else 'write'} sectors {first}..{last}"

    def _data_out(self, data: bytes) -> str:
        pending = self.reg("pending_write", None)
        if pending is None:
            return "data ignored (no write in progress)"
        first, count = pending
        buf = self.reg("buf", b"") + data
        if len(buf) >= count * SECTOR:
            for i in range(count):
                write_sector(self.store, first + i, buf[i * SECTOR : (i + 1) * SECTOR])
            self.set("buf", None)
            self.set("pending_write", None)
            self.set("status", STATUS_DRDY)
            return f"wrote sectors {first}..{first + count - 1}"
        self.set("buf", buf)
        return f"buffered {len(buf)} bytes"

    def inp(self, port: int, size: int) -> bytes:
        if port in BM_PORTS:
            return bytes(size)
        offset = port - IDE_BASE
        if offset == 0:
            buf = self.reg("buf", b"") or b""
            if not self.reg("pending_write", None) and buf:
                out, rest = buf[:size], buf[size:]
                self.set("buf", rest or None)
                if not rest:
                    self.set("status", STATUS_DRDY)
                return out.ljust(size, b"\0")
            return bytes(size)
        if offset == 7:
            return bytes([self.reg("status", STATUS_DRDY)]) * size
        names = {2: "count", 3: "lba0", 4: "lba1", 5: "lba2", 6: "drive"}
        return bytes([self.reg(names[offset]) if offset in names else 0xFF]) * size


def access_detail(result, write: bool) -> dict:
    """An I/O access's result as an event shows it: the effect of a write, the bytes read."""
    return {"effect": result} if write else {"bytes": result[:16].hex()}
