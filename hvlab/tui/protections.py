"""The protections as switches. Enter on one switches it and replays the same run."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from hvlab.model.core.events import Event
from hvlab.model.core.protections import PRINCIPLES
from hvlab.session import Session


class Protections(OptionList):
    """One line per protection: on/off, the id, the principle; the one that decided the current
    event is marked ◀. Selecting a line (enter or space) posts `Toggled`."""

    BINDINGS = [
        Binding("enter", "select", "Switch it"),
        Binding("space", "select", "Switch it", show=False),
    ]

    class Toggled(Message):
        """The learner switched protection `protection`."""

        def __init__(self, protection: str) -> None:
            self.protection = protection
            super().__init__()

    def show(self, session: Session, ev: Event | None) -> None:
        here = self.highlighted
        defenses = session.catalogue.defenses
        options = []
        for pid in session.protections:
            on = session.design.is_on(pid)
            text = Text()
            text.append(
                " on  " if on else " OFF ",
                style="bold black on green" if on else "bold white on red",
            )
            text.append(f" {pid}", style="bold")
            if ev is not None and ev.protection == pid:
                text.append("  ◀ decided this step", style="bold red")
            principle = PRINCIPLES.get(pid) or defenses.get(pid, ("", ""))[0]
            source = f" (plugin {defenses[pid][1]})" if pid in defenses else ""
            text.append(f"\n      {principle}{source}", style="dim")
            options.append(Option(text, id=pid))
        self.clear_options()
        self.add_options(options)
        if here is not None and here < len(options):
            self.highlighted = here
        elif options:
            self.highlighted = 0  # a row is always highlighted: enter switches that one

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Toggled(event.option.id))
