"""The hvlab Textual app: a start screen, the lab, narration mode."""

from __future__ import annotations

from textual.app import App

from hvlab.plugins import Catalogue
from hvlab.session import Session


class HvlabApp(App):
    """Opens on the lab when given a session, on the start screen otherwise."""

    TITLE = "hvlab"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (150, "-xwide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        catalogue: Catalogue,
        session: Session | None = None,
        *,
        narrate: bool = False,
    ) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.first_session = session
        self.narrate = narrate

    def on_mount(self) -> None:
        if self.first_session is not None:
            self.open_lab(self.first_session)
        else:
            from hvlab.tui.start import StartScreen

            self.push_screen(StartScreen(self.catalogue))

    def open_lab(self, session: Session) -> None:
        if self.narrate:
            from hvlab.tui.narration_screen import NarrationScreen

            screen = NarrationScreen(session)
        else:
            from hvlab.tui.lab_screen import LabScreen

            screen = LabScreen(session)
        self.sub_title = session.spec.describe()
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    @property
    def session(self) -> Session | None:
        return getattr(self.screen, "session", None)
