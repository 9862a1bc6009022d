"""Render the hook reference in docs/plugins.md from the hook specifications' docstrings."""

from __future__ import annotations

import inspect

from hvlab import hookspecs

START, END = "<!-- hooks:start -->", "<!-- hooks:end -->"


def hooks() -> list:
    return [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("hvlab_")]


def family(fn) -> str:
    source = inspect.getsource(hookspecs)
    before = source[: source.index(f"def {fn.__name__}(")]
    return before.rsplit("# -- ", 1)[1].split(" ", 1)[0]


def reference() -> str:
    out = []
    order = {"catalogue": 0, "sites": 1, "observers": 2, "lifecycle": 3}
    for fn in sorted(hooks(), key=lambda f: (order.get(family(f), 9), f.__code__.co_firstlineno)):
        sig = str(inspect.signature(fn)).replace("'", "")
        out += [
            f"### `{fn.__name__}{sig}`",
            "",
            f"*{family(fn)}*",
            "",
            inspect.cleandoc(fn.__doc__ or ""),
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def render(doc: str) -> str:
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference()}{END}{tail}"


if __name__ == "__main__":  # python -m hvlab.hookdoc rewrites docs/plugins.md in place
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
    path.write_text(render(path.read_text()))
