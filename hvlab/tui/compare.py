"""Two runs side by side from the first step where they part, and the protection that decided."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from hvlab.lab import Lab
from hvlab.render import outcome_lines
from hvlab.session import Session
from hvlab.tui.highlight import compact_line

AROUND = 3  # events shown before the divergence
AFTER = 8


def outcome_text(lab: Lab) -> Text:
    lines = list(outcome_lines(lab.outcome))
    style = "bold red" if lab.outcome.result == "breached" else "bold green"
    return Text("\n".join(lines), style=style)


def compare_view(session: Session, conceal: bool = False) -> Table | Text:
    old, new = session.baseline, session.lab
    if conceal and old is not None:
        return Text(
            "Commit your prediction first (p): then the two runs appear here side by side.",
            style="italic",
        )
    if old is None:
        return Text(
            "Switch a protection (t, then enter) or the design (d): the same run replays and the "
            "two runs appear here side by side from the first step where they differ.",
            style="italic",
        )
    div = session.divergence
    if session.switched:
        state = "on" if new.design.is_on(session.switched) else "off"
        what = f"{session.switched} switched {state}"
    else:
        what = f"design {new.design.label}"
    table = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
    for head in (f"before: {old.design.label}", f"after: {what}"):
        table.add_column(Text(head, style="bold"), ratio=1, overflow="fold")
    if div is None:
        table.caption = Text(
            "The two runs are identical, event for event: this switch changed nothing."
        )
    else:
        decided = f", decided by {div.protection}" if div.protection else ""
        title = Text(f"the runs part at step {div.step}{decided} (g: go there)", style="bold")
        for name, before, after in div.fields[:3]:  # what reads differently there
            title.append(f"\n{name}: ", style="bold")
            title.append(before[:40], style="")
            title.append("  →  ", style="dim")
            title.append(after[:40], style="bold yellow")
        table.title = title
        for i in range(max(0, div.step - AROUND), div.step + AFTER):
            cells = []
            for lab in (old, new):
                if i < len(lab.events):
                    ev = lab.events[i]
                    style = "bold" if i == div.step else ("dim" if i < div.step else "")
                    if ev.blocked:
                        style += " red"
                    cells.append(Text(compact_line(ev), style=style))
                else:
                    cells.append(Text("   (run ended)", style="dim"))
            table.add_row(*cells)
    table.add_row(outcome_text(old), outcome_text(new))
    return table


class Compare(Static):
    """Before and after the last switch; see `compare_view`."""

    def show(self, session: Session, conceal: bool = False) -> None:
        self.update(compare_view(session, conceal))
