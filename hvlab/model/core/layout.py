"""Where things live in the model's system physical address space and in each guest's."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 4096  # an x86 page, the unit of every second-level map and of a GPADL


@dataclass(frozen=True, slots=True)
class Layout:
    """Frame numbers (4 KiB pages) of the machine.

    Frames `hv_code` and `hv_data` hold the hypervisor. The root owns the rest of RAM; of that,
    `vm_frames` is the budget its memory manager may hand to children (deposits and guest RAM).
    """

    frames: int = 1024
    hv_code: range = range(0x00, 0x10)
    hv_data: range = range(0x10, 0x20)
    vm_frames: range = range(0x80, 0xE0)
    # The root's hypercall code, input and output pages (GPA == SPA in the root).
    root_hypercall_page: int = 0x20
    root_input_page: int = 0x21
    root_output_page: int = 0x22
    # The root's SynIC message and event-flag pages.
    root_simp_page: int = 0x23
    root_siefp_page: int = 0x24
    # Root memory the root deposits into its own pool (for the partitions it creates).
    root_pool_frames: range = range(0x70, 0x80)

    @property
    def hypervisor_frames(self) -> range:
        return range(self.hv_code.start, self.hv_data.stop)

    @property
    def ram_frames(self) -> range:
        """Frames the root owns at power-on."""
        return range(self.hv_data.stop, self.frames)


# A child's guest-physical layout (page numbers), the same in every child.
GUEST_HYPERCALL_PAGE = 1
GUEST_INPUT_PAGE = 2
GUEST_OUTPUT_PAGE = 3
GUEST_SIMP_PAGE = 8  # the SynIC message page
GUEST_SIEFP_PAGE = 9  # the SynIC event flags page
GUEST_RECEIVE_BUFFER = (10, 11)  # netvsc's receive buffer, shared with the switch by a GPADL
GUEST_SEND_BUFFER = (17, 18)  # netvsc's send buffer (two sections of a page)
GUEST_SECRET_PAGE = 20
# Pages below this one are the kernel's pinned pages — overlays of the hypervisor's (the
# hypercall page, SynIC pages), the hypercall input and output pages, VMBus rings and buffers
# the root maps by GPADL: a memory manager never moves or combines them.
GUEST_PINNED_PAGES = 20
# A page of kernel code the root's worker loads: the same in every child.
GUEST_KERNEL_TEXT_PAGE = 21
DEFAULT_LAYOUT = Layout()


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """A guest the boot workload builds: its RAM, its deposited pool, where it keeps a secret."""

    name: str
    ram_pages: int
    pool_pages: int
    secret_gpa: int
    library_gpa: int | None = None  # a page of a library build the guest loaded (a canary)


CHILDREN = (
    ChildSpec("A", 32, 8, GUEST_SECRET_PAGE * PAGE_SIZE),
    # B's secret sits above A's RAM: a GPA A can name, though in A's map it is nothing.
    ChildSpec("B", 48, 8, 40 * PAGE_SIZE, library_gpa=41 * PAGE_SIZE),
)


def page_of(address: int) -> int:
    return address // PAGE_SIZE


def offset_in_page(address: int) -> int:
    return address % PAGE_SIZE
