"""Provoking a race on purpose: hold one thread inside a generator while another calls in.

Two threads racing on one generator collide only when the second calls in while the first
is inside it, which a stress run meets by luck (0 of 3 runs at workers=2, issue 10 item 19).
:func:`provoke` makes it happen every time: thread A makes one call with a trace function
(``sys.settrace`` on A only) that pauses A whenever it resumes a generator that already ran
before the call (a generator the loader keeps between calls, not one the call creates), and
thread B makes a second call while A is paused there. An unlocked generator then raises ``ValueError:
generator already executing`` in B; a lock around it makes B wait, which is safe.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import inspect
import queue
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["Provoked", "provoke"]

#: How many times thread A is paused in one call (one pause per generator it resumes).
MAX_HOLDS = 3


@dataclasses.dataclass
class Provoked:
    """What the second call did while the first was paused inside a generator.

    Attributes:
        held_in: the generator the first call was paused in (``module.qualname``).
        outcome: ``"raised"``, ``"returned"``, or ``"blocked"`` (it waited for the first
            call, e.g. on a lock, and was let go when the first call resumed).
        error: what the second call raised, for ``"raised"``.
        traceback: its traceback text.
    """

    held_in: str
    outcome: Literal["raised", "returned", "blocked"]
    error: BaseException | None = None
    traceback: str = ""


@functools.lru_cache(maxsize=512)
def _resume_offset(code: types.CodeType) -> int:
    """Offset of a code object's first RESUME (where a new generator's frame starts)."""
    for ins in dis.get_instructions(code):
        if ins.opname == "RESUME":
            return ins.offset
    return -1


def _started(frame: types.FrameType) -> bool:
    """A generator frame that is starting (its first resumption), not resumed after a yield."""
    return frame.f_lasti <= _resume_offset(frame.f_code)


def _where(frame: types.FrameType) -> str:
    name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
    return f"{frame.f_globals.get('__name__', '?')}.{name}"


class _Second:
    """The second call, on its own thread; the caller waits a short while for it."""

    def __init__(self, second: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.tb = ""
        self._second = second
        self.thread = threading.Thread(
            target=self._run, name="threadsafe_gen-probe-second", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        try:
            self._second()
        except BaseException as exc:  # the loader's exception is the evidence
            self.error = exc
            self.tb = traceback.format_exc()
        finally:
            self.done.set()


#: Whether races can be provoked here. Python 3.10 crashes (SIGSEGV, seen in the TensorFlow-free
#: test run) when a generator paused by a trace function is resumed from another thread; there
#: the checker relies on its stress run alone, as before.
RACES_PROVOKABLE = sys.version_info >= (3, 11)


def provoke(
    first: Callable[[], Any], second: Callable[[], Any], *, wait: float, timeout: float
) -> list[Provoked] | None:
    """Call *first* on a helper thread, paused at each generator it resumes (at most
    :data:`MAX_HOLDS`), and *second* on another thread during each pause.

    *wait* bounds how long a second call may take before it counts as ``"blocked"`` (then
    the first call is let go, and the second finishes after it). Returns one
    :class:`Provoked` per pause (an empty list when *first* resumed no generator), or None
    when the calls did not finish within *timeout* (their daemon threads are abandoned).
    """
    events: queue.SimpleQueue[tuple[str, str, threading.Event | None]] = queue.SimpleQueue()
    deadline = time.monotonic() + timeout

    def run_first() -> None:
        holds = 0
        local: set[int] = set()  # generator frames this call started: its own, not shared

        def tracer(frame: types.FrameType, event: str, arg: Any) -> None:
            nonlocal holds
            if event != "call" or not frame.f_code.co_flags & inspect.CO_GENERATOR:
                return
            if _started(frame):
                local.add(id(frame))
                return
            if holds >= MAX_HOLDS or id(frame) in local:
                return
            holds += 1
            go = threading.Event()
            events.put(("held", _where(frame), go))
            go.wait(max(0.0, deadline - time.monotonic()))

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            first()
        except BaseException:  # the first call's own errors are not the point
            pass
        finally:
            sys.settrace(old)
            events.put(("done", "", None))

    holder = threading.Thread(target=run_first, name="threadsafe_gen-probe-held", daemon=True)
    holder.start()
    found: list[Provoked] = []
    seconds: list[_Second] = []
    while True:
        try:
            kind, where, go = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if kind == "done":
            break
        call = _Second(second)
        seconds.append(call)
        if call.done.wait(min(wait, max(0.0, deadline - time.monotonic()))):
            outcome: Literal["raised", "returned", "blocked"] = (
                "raised" if call.error is not None else "returned"
            )
            found.append(Provoked(where, outcome, call.error, call.tb))
        else:
            found.append(Provoked(where, "blocked"))
        assert go is not None
        go.set()
    for t in [holder, *(c.thread for c in seconds)]:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            return None
    return found
