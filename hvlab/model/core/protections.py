"""The design properties the lab teaches, each an independent switch on one model: the eight of
the source material, and the IOMMU, the DMA half of separate address spaces."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Protection(StrEnum):
    SEPARATE_ADDRESS_SPACES = "separate-address-spaces"
    NO_THIRD_PARTY_CODE = "no-third-party-code"
    GUEST_TRAFFIC_VIA_ROOT = "guest-traffic-via-root"
    EXCLUSIVE_GUEST_MEMORY = "exclusive-guest-memory"
    MEDIATED_IO = "mediated-io"
    HYPERCALL_ONLY_ACCESS = "hypercall-only-access"
    SDL_INPUT_VALIDATION = "sdl-input-validation"
    VSP_VALIDATES_INPUT = "vsp-validates-input"
    IOMMU_DMA_PROTECTION = "iommu-dma-protection"


PRINCIPLES: dict[str, str] = {
    Protection.SEPARATE_ADDRESS_SPACES: (
        "The hypervisor and the host OS have separate address spaces."
    ),
    Protection.NO_THIRD_PARTY_CODE: "The hypervisor contains no third-party code.",
    Protection.GUEST_TRAFFIC_VIA_ROOT: (
        "Guest-to-guest traffic over synthetic devices does not pass through the hypervisor."
    ),
    Protection.EXCLUSIVE_GUEST_MEMORY: (
        "No memory is shared between guests: the root's policy (the hypervisor would let a "
        "parent share pages between its children)."
    ),
    Protection.MEDIATED_IO: "Guests cannot affect hardware I/O.",
    Protection.HYPERCALL_ONLY_ACCESS: (
        "Partitions cannot write to the hypervisor; they reach it only through the hypercall API."
    ),
    Protection.SDL_INPUT_VALIDATION: (
        "The Security Development Lifecycle: every hypercall handler validates its input, and "
        "the intercept path validates the instruction it decodes."
    ),
    Protection.VSP_VALIDATES_INPUT: (
        "Root VSPs copy, bound and translate every guest-supplied packet and address."
    ),
    Protection.IOMMU_DMA_PROTECTION: (
        "Device DMA goes through an IOMMU the hypervisor owns: a device reaches only what the "
        "partition it serves can reach."
    ),
}

PRESETS: dict[str, frozenset[str]] = {
    "hyperv": frozenset(),
    "monolithic": frozenset(
        {Protection.NO_THIRD_PARTY_CODE.value, Protection.GUEST_TRAFFIC_VIA_ROOT.value}
    ),
}


class UnknownProtectionError(ValueError):
    """An id that names no protection; the message lists the valid ones."""


class UnknownDesignError(ValueError):
    """A preset name that does not exist; the message lists the valid ones."""


def known_protections(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Built-in protection ids in teaching order, then extra (plugin-added) ids."""
    return tuple(p.value for p in Protection) + tuple(e for e in extra if e not in PRINCIPLES)


@dataclass(frozen=True, slots=True)
class Design:
    """A design is the set of protection ids that are switched off."""

    off: frozenset[str] = frozenset()
    name: str = "custom"

    @classmethod
    def preset(cls, name: str) -> Design:
        if name not in PRESETS:
            raise UnknownDesignError(
                f"unknown design '{name}' (valid: {', '.join(sorted(PRESETS))}, or use --off)"
            )
        return cls(PRESETS[name], name)

    @classmethod
    def build(
        cls,
        preset: str = "hyperv",
        off: tuple[str, ...] | list[str] = (),
        extra: tuple[str, ...] = (),
    ) -> Design:
        """The preset with `off` switched off as well; unknown ids raise with the valid list.

        Plugin-added protections (`extra`) are on in `hyperv`, which has everything on, and off
        in the other presets, which are fixed designs from the source material."""
        valid = known_protections(extra)
        for pid in off:
            if pid not in valid:
                raise UnknownProtectionError(
                    f"unknown protection '{pid}' (valid: {', '.join(valid)})"
                )
        base = cls.preset(preset)
        plugin_off = (
            frozenset(e for e in extra if e not in PRINCIPLES)
            if preset != "hyperv"
            else frozenset()
        )
        if not off:
            return cls(base.off | plugin_off, base.name) if plugin_off else base
        return cls(base.off | plugin_off | frozenset(off), "custom")

    def is_on(self, protection: str) -> bool:
        return protection not in self.off

    def without(self, protection: str) -> Design:
        return Design(self.off | {protection}, "custom")

    def with_(self, protection: str) -> Design:
        return Design(self.off - {protection}, "custom")

    @property
    def label(self) -> str:
        if self.name != "custom":
            return self.name
        for name, off in PRESETS.items():
            if off == self.off:
                return name
        return f"custom ({len(self.off)} off: {', '.join(sorted(self.off))})"

    def to_json(self) -> dict:
        return {"name": self.label, "off": sorted(self.off)}
