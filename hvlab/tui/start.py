"""The start screen: pick a workload, an attack (or none) and a design, then open the lab."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Select, Static

from hvlab.model.protections import PRESETS
from hvlab.plugins import Catalogue
from hvlab.session import RunSpec, Session, SessionError

NONE = "(no attack)"


class StartScreen(Screen):
    """Enter (on the button, focused at start) or ctrl+o opens the lab with the choices shown;
    tab moves between the choices; choosing an attack picks its workload."""

    AUTO_FOCUS = "#open"

    DEFAULT_CSS = """
    StartScreen { align: center middle; }
    StartScreen > Vertical { width: 80; height: auto; border: round $accent; padding: 0 2; }
    StartScreen Label { margin-top: 1; color: $text-muted; }
    StartScreen Button { margin-top: 1; width: 100%; }
    """
    BINDINGS = [
        Binding("ctrl+o", "open", "Open the lab", priority=True),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, catalogue: Catalogue, spec: RunSpec | None = None) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.spec = spec or RunSpec()

    def compose(self) -> ComposeResult:
        cat = self.catalogue
        with Vertical():
            yield Static(
                "[b]hvlab[/b] — step through a Hyper-V style hypervisor, inject an attack, "
                "switch a protection off and watch the same run replay."
            )
            yield Label("Workload")
            yield Select(
                [(f"{w.name} — {w.summary}", w.name) for w in cat.workloads.values()],
                value=self.spec.workload,
                allow_blank=False,
                compact=True,
                id="workload",
            )
            yield Label("Attack")
            yield Select(
                [(NONE, NONE)]
                + [(f"{a.name} ({a.workload})", a.name) for a in cat.attacks.values()],
                value=self.spec.attack or NONE,
                allow_blank=False,
                compact=True,
                id="attack",
            )
            yield Label("Design")
            yield Select(
                [(name, name) for name in sorted(PRESETS)],
                value=self.spec.preset if self.spec.preset in PRESETS else "hyperv",
                allow_blank=False,
                compact=True,
                id="design",
            )
            yield Button("Open the lab (ctrl+o)", variant="primary", id="open")
        yield Footer()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "attack" and event.value in self.catalogue.attacks:
            workload = self.catalogue.attacks[event.value].workload
            self.query_one("#workload", Select).value = workload

    def chosen(self) -> RunSpec:
        attack = self.query_one("#attack", Select).value
        return RunSpec(
            workload=str(self.query_one("#workload", Select).value),
            attack=None if attack == NONE else str(attack),
            preset=str(self.query_one("#design", Select).value),
            seed=self.spec.seed,
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_open()

    def action_open(self) -> None:
        try:
            session = Session(self.chosen(), self.catalogue)
        except SessionError as exc:
            self.notify(str(exc), severity="error")
            return
        self.app.open_lab(session)
