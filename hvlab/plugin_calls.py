"""Calling into plugins while hvlab runs: every hook call fenced (a time limit, whatever it
raises kept from ending hvlab), the bridge the model calls at its sites, and the run's start and
end told to observers. A plugin that fails is reported by name and blocked for the session.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hvlab.plugins import Catalogue


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, pluggy.PluginValidationError | PluginEscapeError):
        return text
    return f"{type(exc).__name__}: {text}"


def where(exc: BaseException) -> str:
    """' (FILE:LINE)' of the innermost frame outside hvlab and pluggy: the plugin's own line
    that raised ('' when there is none)."""
    import os

    ours = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(pluggy.__file__))
    tb, found = exc.__traceback__, ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(name).startswith(ours):
            found = f" ({os.path.basename(name)}:{tb.tb_lineno})"
        tb = tb.tb_next
    return found


TIME_LIMIT = 2.0  # seconds one plugin call may take


class PluginTimeoutError(Exception):
    pass


class PluginEscapeError(Exception):
    """A plugin raised what is not an Exception — SystemExit, KeyboardInterrupt, GeneratorExit
    or a BaseException of its own — which must not end hvlab: reported like any other error."""


@contextlib.contextmanager
def plugin_code():
    """Around a call into plugin code: what it raises that would end hvlab (SystemExit, a
    KeyboardInterrupt that is not the user's Ctrl-C, any other BaseException) becomes a
    PluginEscapeError. The user's own Ctrl-C (SIGINT while the call runs) still interrupts."""
    import signal
    import threading

    user = []
    main = threading.current_thread() is threading.main_thread()
    if main:

        def interrupted(_signum, _frame):
            user.append(True)
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    except Exception:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and user:
            raise
        escaped = PluginEscapeError(f"{type(exc).__name__}: {exc}".rstrip(": "))
        raise escaped.with_traceback(exc.__traceback__) from None  # keeps the plugin's line
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def guarded(fn: Callable, *args, **kwargs):
    """Run a plugin call under a time limit (SIGALRM, main thread only: elsewhere unlimited),
    with what it raises kept from ending hvlab (see plugin_code)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        with plugin_code():
            return fn(*args, **kwargs)

    def expire(_signum, _frame):
        raise PluginTimeoutError(f"took longer than {TIME_LIMIT:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with plugin_code():
            return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def report(cat: Catalogue, plugin: str, hook: str, problem: str) -> None:
    cat.errors.append(f"plugin '{plugin}' {problem} in {hook}; blocked for this session")
    if cat.echo:
        print(f"hvlab: {cat.errors[-1]}", file=sys.stderr)
    cat.manager.set_blocked(plugin)


SITE_HOOKS = {
    "vmbus-packet": "hvlab_site_vmbus_packet",
    "driver-load": "hvlab_site_driver_load",
    "hypercall": "hvlab_site_hypercall",
    "memory-access": "hvlab_site_memory_access",
    "port-io": "hvlab_site_port_io",
    "vsp-packet": "hvlab_site_vsp_packet",
    "vmbus-message": "hvlab_site_vmbus_message",
}


def site_handler(cat: Catalogue) -> Callable:
    """The bridge the model calls at a site: only the plugin owning the driver is called, under
    the time limit, and a plugin that changes model state behind the API is caught."""
    from hvlab.model.core.guard import fail
    from hvlab.model.root.sites import principal

    def handle(site: str, driver: str, ctx) -> None:
        owner = cat.driver_owners.get(driver)
        if owner is None or cat.manager.is_blocked(owner) or cat.manager.get_plugin(owner) is None:
            return
        hook = SITE_HOOKS[site]
        others = [p for name, p in cat.manager.list_name_plugin() if name != owner and p]
        caller = cat.manager.subset_hook_caller(hook, remove_plugins=others)
        m = ctx._state.m
        store = m.store
        before = dict(store.data)

        def failed(problem: str) -> None:
            # said once, and an event of the run: the oracle's verdict is `error`, never what
            # the hook may have made the run look like
            report(cat, owner, hook, problem)
            fail(m, principal(getattr(ctx, "where", "lab"), driver), owner, hook, problem)

        try:
            result = guarded(caller, ctx=ctx)
        except Exception as exc:
            failed(f"raised {one_line(exc)}{where(exc)}")
            return
        if store.data != before:
            store.data.clear()
            store.data.update(before)
            failed("changed model state behind the API")
        elif any(r is not None for r in result or []):
            failed("returned a value where none is expected")

    # the sites some plugin implements: the model asks no one at the others (a memory access
    # is on the hot path)
    handle.watched = frozenset(
        site for site, hook in SITE_HOOKS.items() if getattr(cat.manager.hook, hook).get_hookimpls()
    )
    return handle


def call_safely(cat: Catalogue, hook: str, **kwargs) -> None:
    """Call every implementation of `hook`, each under the time limit. One that raises, overruns
    or returns a value is reported by name and blocked for the session; the others still run."""
    caller = getattr(cat.manager.hook, hook)
    for impl in list(caller.get_hookimpls()):
        if cat.manager.is_blocked(impl.plugin_name):
            continue
        try:
            result = guarded(impl.function, **{k: kwargs[k] for k in impl.argnames})
        except Exception as exc:
            report(cat, impl.plugin_name, hook, f"raised {one_line(exc)}")
            continue
        if result is not None:
            report(cat, impl.plugin_name, hook, "returned a value where none is expected")


def start_run(cat: Catalogue, info: dict) -> None:
    call_safely(cat, "hvlab_lab_started", info=dict(info))


def report_failures(cat: Catalogue, outcome) -> None:
    """A plugin whose program failed in this run (the oracle's `plugin-error` lines) is blocked
    for the session, and said so once, like a hook that raised."""
    for name, line in outcome.failures:
        if cat.manager.get_plugin(name) is not None and not cat.manager.is_blocked(name):
            cat.errors.append(f"{line}; blocked for this session")
            if cat.echo:
                print(f"hvlab: {cat.errors[-1]}", file=sys.stderr)
            cat.manager.set_blocked(name)


def finish_run(cat: Catalogue, info: dict, events, outcome) -> None:
    report_failures(cat, outcome)
    if cat.manager.hook.hvlab_event.get_hookimpls():
        for ev in events:
            call_safely(cat, "hvlab_event", event=ev)
    call_safely(cat, "hvlab_lab_finished", info={**info, "events": len(events)}, outcome=outcome)
