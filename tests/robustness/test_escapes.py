"""Terminal escapes and bidi controls from any file never reach the terminal raw: lesson text is
refused at load, and everything else read from a file — file names, plugin names and errors,
trace fields, progress ids — is shown escaped (the conftest checks every line for raw ones)."""

from __future__ import annotations

import hashlib
import json

import pytest
import tomli_w

from hvlab import tracefile

TITLE_LESSON = """\
schema_version = 1
id = "escapes"
title = "{title}"

[[steps]]
narration = "n"
"""


@pytest.mark.parametrize(
    "title", ["\\u001b[2J cleared", "\\u202eevil", "bell \\u0007", "tab\\tin a title"]
)
def test_a_lesson_title_with_a_control_character_is_refused(cli, tmp_path, title):
    path = tmp_path / "escapes.toml"
    path.write_text(TITLE_LESSON.format(title=title))
    code, _, err = cli("lessons", "--lessons", str(path))
    assert code == 2 and "'title' holds the control character U+" in err


def test_a_file_name_with_an_escape_is_shown_escaped(cli, tmp_path):
    (tmp_path / "evil\x1b[2J.toml").write_text("not toml [")
    code, _, err = cli("check", "--no-contracts", str(tmp_path))
    assert code == 2 and "evil\\x1b[2J.toml" in err


def test_a_plugin_file_named_with_an_escape_is_refused(cli, tmp_path):
    plugin = tmp_path / "evil\x1b]0;owned\x07.py"
    plugin.write_text("")
    code, _, err = cli("run", "boot", "--plugin", str(plugin))
    assert code == 0 and "its name holds a control character" in err and "\\x1b" in err


def test_a_plugin_error_with_an_escape_is_shown_escaped(cli, tmp_path):
    plugin = tmp_path / "loud.py"
    plugin.write_text(
        "from hvlab.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def hvlab_lab_started(info):\n"
        "    raise ValueError('\\x1b[31mred\\u202e')\n"
    )
    code, _, err = cli("run", "boot", "--plugin", str(plugin))
    assert code == 0 and "\\x1b[31mred\\u202e" in err


def test_a_trace_naming_a_plugin_with_an_escape_is_shown_escaped(cli, tmp_path):
    path = tmp_path / "forged.hvtrace"
    assert cli("export", "trace", str(path))[0] == 0
    doc = tracefile.read(path).fields()
    doc["plugins"] = {"evil\x1b[2J": "1"}
    doc_sum = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    path.write_text(tomli_w.dumps({"hvlab_trace": 1, **doc, "checksum": doc_sum}))
    line = cli.refused("replay", "--check", str(path), code=1)
    assert "evil\\x1b[2J" in line


def test_a_progress_id_with_an_escape_is_shown_escaped(cli, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "progress.toml").write_text('schema_version = 1\n[lessons."a\\u001b[2J"]\n')
    code, _, err = cli("progress", "show")
    assert code == 0 and "\\x1b[2J" in err and "moved to" in err


async def test_a_notification_in_the_lab_is_escaped_plain_text():
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp

    cat = load_catalogue([], echo=False)
    app = HvlabApp(cat, Session(RunSpec("boot"), cat))
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify("[/bold] \x1b[2J\u202e", title="\x1b]0;x\x07")
        await pilot.pause()
        (shown,) = [n for n in app._notifications if "[/bold]" in n.message]
        assert shown.message == "[/bold] \\x1b[2J\\u202e" and shown.title == "\\x1b]0;x\\x07"
        assert app.is_running  # '[/bold]' was not taken for markup
