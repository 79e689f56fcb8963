"""threadsafe_iter and @threadsafe_generator against edge cases we did not design for (issue 11).

Each test compares with what a plain generator does in the same situation, and runs code that
could deadlock in a helper thread joined with a timeout, so a regression fails instead of
hanging the suite.
"""

from __future__ import annotations

import concurrent.futures
import errno
import multiprocessing
import pickle
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest

from threadsafe_gen import threadsafe_generator, threadsafe_iter
from threadsafe_gen._iterators import GeneratorCall

TIMEOUT = 10.0


def within(fn: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Run fn() in a helper thread; its result, or its exception; fail on a hang."""
    out: list[Any] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            err.append(exc)

    t = threading.Thread(target=run, daemon=True, name="hostile-test")
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"the call did not return within {timeout} s (a deadlock)")
    if err:
        raise err[0]
    return out[0]


# --- item 15: a generator that uses its own wrapper --------------------------------------------


def _reenters(method: str, get_self: Callable[[], Any]) -> Iterator[str]:
    """Call next/send/close on its own iterator once, report what happened, then go on."""
    yield "first"
    me = get_self()
    try:
        if method == "next":
            next(me)
        elif method == "send":
            me.send(None)
        else:
            me.close()
    except ValueError as exc:
        yield f"ValueError: {exc}"
    yield "after"


@threadsafe_generator
def reentrant_call(method: str, box: list[Any]) -> Iterator[str]:
    """_reenters through the decorated call stored in box[0]."""
    yield from _reenters(method, lambda: box[0])


def _plain_reentry(method: str) -> list[str]:
    box: list[Any] = []
    gen = _reenters(method, lambda: box[0])
    box.append(gen)
    return list(gen)


@pytest.mark.parametrize("method", ["next", "send", "close"])
def test_reentry_raises_generator_already_executing(method: str) -> None:
    """next/send/close on the wrapper from inside its generator: ValueError, as plain (no hang)."""
    box: list[Any] = []
    it = threadsafe_iter(_reenters(method, lambda: box[0]))
    box.append(it)
    got = within(lambda: list(it))
    assert (got, got[1]) == (_plain_reentry(method), "ValueError: generator already executing")


@pytest.mark.parametrize("method", ["next", "send", "close"])
def test_reentry_through_a_decorated_call(method: str) -> None:
    """The same through a @threadsafe_generator call (its own generator is the re-entered one)."""
    box: list[Any] = []
    call = reentrant_call(method, box)
    box.append(call)
    assert within(lambda: list(call)) == _plain_reentry(method)


@threadsafe_generator
def reenters_before_its_first_item(box: list[Any]) -> Iterator[int]:
    """Call next() on its own call before producing anything."""
    try:
        next(box[0])
    except ValueError:
        yield -1
    yield 1


def test_reentry_during_the_first_item_of_a_call() -> None:
    """Re-entry while the call is being started is refused the same way."""
    box: list[Any] = []
    call = reenters_before_its_first_item(box)
    box.append(call)
    assert within(lambda: list(call)) == [-1, 1]


def test_uncaught_reentry_error_ends_the_generator_and_is_sticky() -> None:
    """Uncaught, the ValueError ends the generator; later calls re-raise it (not StopIteration)."""
    box: list[Any] = []

    def gen() -> Iterator[int]:
        yield 0
        next(box[0])
        yield 1  # pragma: no cover - never reached

    it = threadsafe_iter(gen())
    box.append(it)
    assert within(lambda: next(it)) == 0
    with pytest.raises(ValueError, match="generator already executing"):
        within(lambda: next(it))
    with pytest.raises(ValueError, match="generator already executing"):
        next(it)


# --- item 16: sticky errors re-raised without running __init__ again -------------------------


class ReadError(Exception):
    """Formats its message in __init__."""

    def __init__(self, path: str) -> None:
        super().__init__(f"cannot read {path}")
        self.path = path


class CodedError(Exception):
    """Needs a keyword-only argument that is not in args."""

    def __init__(self, path: str, *, code: int) -> None:
        super().__init__(f"cannot read {path}")
        self.code = code


class HoldsUnpicklable(Exception):
    """Keeps attributes that pickle refuses (a lock, a generator)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"cannot read {path}")
        self.lock = threading.Lock()
        self.pending = (x for x in range(0))


class MissingFile(OSError):
    """An OSError subclass whose __init__ builds errno, strerror and filename."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.ENOENT, f"cannot read {path}", path)


def _raises(exc: BaseException) -> Iterator[int]:
    yield from ()  # makes this a generator function that raises on its first next()
    raise exc


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReadError("/x"),
        lambda: CodedError("/x", code=7),
        lambda: HoldsUnpicklable("/x"),
        lambda: MissingFile("/x"),
    ],
    ids=["formatting-init", "kw-only-args", "unpicklable-attrs", "oserror-subclass"],
)
def test_sticky_error_is_an_equal_copy_without_rerunning_init(
    make: Callable[[], Exception],
) -> None:
    """Later callers get a new exception of the same type, message and attributes, chained."""
    it = threadsafe_iter(_raises(make()))
    with pytest.raises(Exception, match="cannot read /x") as first:
        next(it)
    with pytest.raises(Exception, match="cannot read /x") as second:
        next(it)
    a, b = first.value, second.value
    own = {k: v for k, v in vars(a).items() if k != "__notes__"}
    again = {k: v for k, v in vars(b).items() if k != "__notes__"}
    assert (type(b), str(b), b.args, again, b.__cause__, b is a) == (
        type(a),
        str(a),
        a.args,
        own,
        a,
        False,
    )
    assert "cannot read cannot read" not in str(b)


def test_sticky_oserror_keeps_its_fields() -> None:
    """errno, strerror and filename of an OSError subclass survive the copy."""
    it = threadsafe_iter(_raises(MissingFile("/x")))
    with pytest.raises(OSError, match="cannot read"):
        next(it)
    with pytest.raises(OSError, match="cannot read") as again:
        next(it)
    err = again.value
    assert (err.errno, err.strerror, err.filename, str(err)) == (
        errno.ENOENT,
        "cannot read /x",
        "/x",
        "[Errno 2] cannot read /x: '/x'",
    )


# --- item 17: only what the generator raises is sticky ----------------------------------------


def _three() -> Iterator[int]:
    yield from (1, 2, 3)


@pytest.mark.parametrize(
    ("wrap", "call"),
    [
        (threadsafe_iter, lambda it: it.send(5)),
        (threadsafe_iter, lambda it: it.throw(1)),
        (lambda g: threadsafe_generator(_three)(), lambda it: it.send(5)),
        (lambda g: threadsafe_generator(_three)(), lambda it: it.throw(1)),
    ],
    ids=["send-iter", "throw-iter", "send-call", "throw-call"],
)
def test_a_refused_call_does_not_poison_the_iterator(wrap: Any, call: Any) -> None:
    """send(5) to a just-started generator, throw(1): TypeError, and the items still come."""
    plain = _three()
    with pytest.raises(TypeError) as expected:
        call(plain)
    it = wrap(_three())
    with pytest.raises(TypeError) as got:
        call(it)
    assert (str(got.value), list(it)) == (str(expected.value), list(plain))


def test_throw_1_in_a_running_generator_keeps_it_running() -> None:
    """throw(1) after the first item: TypeError from the call, the generator goes on."""
    it = threadsafe_iter(_three())
    first = next(it)
    with pytest.raises(TypeError, match="exceptions must"):
        it.throw(1)
    assert [first, *it] == [1, 2, 3]


# --- item 18: close() keeps the error of a failed start ---------------------------------------


@threadsafe_generator
def fails_to_start(path: str) -> Iterator[str]:
    """Not a generator function: raises when called, i.e. when the call starts."""
    raise ReadError(path)


def test_close_after_a_failed_start_keeps_the_error() -> None:
    """next() raises, close() is accepted, the next next() raises again (not StopIteration)."""
    call = fails_to_start("/x")
    with pytest.raises(ReadError):
        next(call)
    call.close()
    with pytest.raises(ReadError) as again:
        next(call)
    assert str(again.value) == "cannot read /x"


# --- item 19: bad arguments fail at the call, like a generator function ----------------------


@threadsafe_generator
def numbers(n: int, *, step: int = 1) -> Iterator[int]:
    """Yield 0, step, ... (n items)."""
    for i in range(n):
        yield i * step


def _plain_numbers(n: int, *, step: int = 1) -> Generator[int, None, None]:
    for i in range(n):
        yield i * step


@threadsafe_generator
def returns_a_list(n: int) -> list[int]:
    """A function returning an iterable (not a generator function)."""
    return list(range(n))


class Source:
    """A decorated generator method."""

    @threadsafe_generator
    def items(self, n: int) -> Iterator[int]:
        """Yield 0..n-1."""
        yield from range(n)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2), {}), ((1,), {"bogus": 2}), ((1,), {"n": 1})],
    ids=["missing", "too-many", "unknown-keyword", "twice"],
)
def test_bad_arguments_raise_at_the_call_with_pythons_message(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """A decorated generator function rejects bad arguments when called, as the plain one does."""
    with pytest.raises(TypeError) as plain:
        _plain_numbers(*args, **kwargs)
    with pytest.raises(TypeError) as ours:
        numbers(*args, **kwargs)
    assert str(ours.value) == str(plain.value).replace("_plain_numbers", "numbers")


def test_bad_arguments_of_a_function_returning_an_iterable() -> None:
    """Functions that are not generator functions are checked against their signature."""
    with pytest.raises(TypeError, match=r"returns_a_list\(\) missing a required argument: 'n'"):
        returns_a_list()  # type: ignore[call-arg]


def test_bad_arguments_of_a_decorated_method() -> None:
    """A method's arguments are checked too (self included)."""
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'n'"):
        Source().items()  # type: ignore[call-arg]
    assert list(Source().items(2)) == [0, 1]


# --- item 20: the non-@ form pickles --------------------------------------------------------

safe_numbers = threadsafe_generator(_plain_numbers)


@pytest.mark.parametrize("func", [numbers, safe_numbers], ids=["decorator", "call-form"])
def test_both_forms_round_trip_through_pickle(func: Any) -> None:
    """An unstarted call of either form pickles and yields the same items after loading."""
    clone = pickle.loads(pickle.dumps(func(3, step=2)))
    assert (type(clone), list(clone), clone.func is func) == (GeneratorCall, [0, 2, 4], True)


@pytest.mark.slow
@pytest.mark.parametrize("func", [numbers, safe_numbers], ids=["decorator", "call-form"])
def test_both_forms_unpickle_in_a_spawn_child(func: Any) -> None:
    """Either form's call is re-created in a spawn worker and yields the same items there."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        remote = pool.submit(list, func(4, step=3)).result(timeout=120)
    assert remote == [0, 3, 6, 9]


# --- item 21: a call closed before it started is a closed generator ---------------------------


def _outcome(fn: Callable[[], Any]) -> str:
    try:
        return repr(fn())
    except BaseException as exc:
        return type(exc).__name__


def _closed_behaviour(it: Any) -> list[str]:
    return [
        _outcome(lambda: it.send(None)),
        _outcome(lambda: next(it)),
        _outcome(lambda: it.gi_running),
        _outcome(lambda: it.gi_frame),
        _outcome(it.close),
    ]


def test_call_closed_before_it_started_behaves_like_a_closed_generator() -> None:
    """send(None) and next() give StopIteration, gi_running is False, gi_frame None."""
    plain = _plain_numbers(3)
    plain.close()
    call = numbers(3)
    call.close()
    assert _closed_behaviour(call) == _closed_behaviour(plain)
    assert call.gi_code is numbers.__wrapped__.__code__  # type: ignore[attr-defined]


# --- item 22: async generator functions are refused when decorated ----------------------------


async def _agen() -> AsyncIterator[int]:
    yield 1


async def _coro() -> int:
    return 1


@pytest.mark.parametrize("func", [_agen, _coro], ids=["async-generator", "coroutine"])
def test_async_functions_are_refused_at_decoration(func: Any) -> None:
    """Decorating an async def is a TypeError at once, saying what is expected instead."""
    with pytest.raises(TypeError, match=r"expected a \(synchronous\) generator function"):
        threadsafe_generator(func)
