"""Installed plugins, what each registers and where it may act, and its source, highlighted."""

from __future__ import annotations

import inspect

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from hvlab.plugins import SITE_HOOKS, Catalogue
from hvlab.userfiles import printable


def plugin_summary(cat: Catalogue, name: str) -> Text:
    plugin = cat.manager.get_plugin(name)
    hooks = sorted(h.name for h in cat.manager.get_hookcallers(plugin) or [])
    attacks = sorted(a.name for a in cat.attacks.values() if a.plugin == name)
    drivers = sorted(d for d, owner in cat.driver_owners.items() if owner == name)
    sites = sorted(site for site, hook in SITE_HOOKS.items() if hook in hooks)
    blocked = cat.manager.is_blocked(name)
    text = Text()
    text.append(name, style="bold red" if blocked else "bold")
    text.append("  (blocked for this session)\n" if blocked else "\n")
    text.append(f"  hooks:   {', '.join(hooks) or '-'}\n")
    text.append(f"  attacks: {', '.join(attacks) or '-'}\n")
    text.append(f"  sites:   {', '.join(sites) or '-'}   drivers: {', '.join(drivers) or '-'}\n")
    return text


YOUR_FILE = "-your-file"  # the option of an exercise's file (no plugin has this name)


def file_summary(exercise) -> Text:
    text = Text()
    text.append(f"{exercise.path}\n", style="bold")
    for line in exercise.lines():
        style = "green" if line.lstrip().startswith(("ok", "PASS")) else "red"
        text.append(line + "\n", style=style if not line.startswith("  your") else "")
    text.append("r checks it again after you save it\n", style="italic")
    return text


def file_source(path):
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return Text(f"cannot read {path}: {exc}", style="italic")
    return _highlighted(printable(source))


def _highlighted(source: str):
    from rich.syntax import Syntax  # pulls in Pygments' Python lexer: only when looked at

    return Syntax(
        source,
        "python",
        line_numbers=True,
        word_wrap=False,
        theme="ansi_dark",
        code_width=None,
        background_color="default",
    )


def plugin_source(cat: Catalogue, name: str):
    plugin = cat.manager.get_plugin(name)
    try:
        source = inspect.getsource(plugin)
    except (TypeError, OSError):
        return Text(f"no source available for plugin '{name}'", style="italic")
    return _highlighted(printable(source))  # an escape sequence in a comment is shown, not sent


class PluginsPane(Horizontal):
    """Left: the plugins; right: the highlighted one's hooks, sites and source."""

    DEFAULT_CSS = """
    PluginsPane > OptionList { width: 30; }
    PluginsPane > VerticalScroll { width: 1fr; }
    """

    def __init__(self, catalogue: Catalogue, exercise=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalogue = catalogue
        self.exercise = exercise  # an exercise's lab: the learner's file comes first
        self._filled = False

    def compose(self) -> ComposeResult:
        mine = [Option("your file", id=YOUR_FILE)] if self.exercise is not None else []
        yield OptionList(*mine, *(Option(p.name, id=p.name) for p in self.catalogue.plugins))
        with VerticalScroll():
            yield Static(id="plugin-summary")
            yield Static(id="plugin-source")

    def on_show(self) -> None:
        # filled when first shown: highlighting plugin source is not worth delaying start-up for
        if self.exercise is not None and not self._filled:
            self._filled = True
            self.show_plugin(YOUR_FILE)
        elif self.catalogue.plugins and not self._filled:
            self._filled = True
            self.show_plugin(self.catalogue.plugins[0].name)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.show_plugin(event.option.id)

    def show_plugin(self, name: str) -> None:
        if name == YOUR_FILE:
            summary, source = file_summary(self.exercise), file_source(self.exercise.path)
        else:
            summary, source = (
                plugin_summary(self.catalogue, name),
                plugin_source(self.catalogue, name),
            )
        self.query_one("#plugin-summary", Static).update(summary)
        self.query_one("#plugin-source", Static).update(source)
