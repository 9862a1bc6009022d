"""Meta-tests: every hook is documented with its exact signature, the reference in
docs/plugins.md is generated from those docstrings, and every hook has a test here."""

import inspect
import pathlib

from hvlab import hookdoc, hookspecs

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKS = hookdoc.hooks()


def test_every_hook_is_prefixed_typed_and_documented():
    assert HOOKS
    for fn in HOOKS:
        assert fn.__name__.startswith("hvlab_")
        sig = inspect.signature(fn)
        assert sig.return_annotation != inspect.Signature.empty, fn.__name__
        doc = inspect.cleandoc(fn.__doc__ or "")
        assert "Example::" in doc and "@hookimpl" in doc, fn.__name__
        for param in sig.parameters:
            assert param in doc and f":param {param}:" in doc, (fn.__name__, param)


def test_hook_reference_in_the_docs_is_current():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    assert hookdoc.render(doc) == doc, "run: python -m hvlab.hookdoc"
    for fn in HOOKS:
        assert f"`{fn.__name__}{str(inspect.signature(fn)).replace(chr(39), '')}`" in doc


def test_every_hook_has_a_test():
    tests = "".join(
        p.read_text()
        for p in (ROOT / "tests" / "plugins").glob("test_*.py")
        if p.name != "test_hooks.py"
    )
    for fn in HOOKS:
        assert f"def {fn.__name__}(" in tests, f"no test implements {fn.__name__}"


def test_markers_use_the_project_name():
    assert hookspecs.hookimpl.project_name == hookspecs.hookspec.project_name == "hvlab"
