"""SharedArray: values, handle pickling, read-only workers, and no /dev/shm leaks (even after SIGKILL)."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

from threadsafe_gen import SharedArray, _shared
from threadsafe_gen.errors import SharedArrayClosedError

SHM = "/dev/shm"
pytestmark = pytest.mark.skipif(not os.path.isdir(SHM), reason="needs /dev/shm (Linux)")


def segments(pid: int) -> set[str]:
    """Names in /dev/shm created by SharedArrays of process `pid`."""
    return {e for e in os.listdir(SHM) if e.startswith(f"tsg_{pid}_")}


def wait_until_gone(name: str, timeout: float = 10.0) -> bool:
    """True once /dev/shm/<name> no longer exists (the reaper works asynchronously)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(os.path.join(SHM, name)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# Module-level so spawn/forkserver workers can import them.
def worker_read(sa: SharedArray) -> tuple[float, bool, bool]:
    """Sum, writeable flag, and whether the handle arrived as an attached (non-owner) view."""
    array = sa.array
    return float(array.sum()), bool(array.flags.writeable), sa.is_owner


def worker_write(sa: SharedArray) -> str:
    """Try to write in a worker; return the exception type name."""
    try:
        sa.array[0] = 1
    except ValueError as exc:
        return type(exc).__name__
    return "wrote"


def worker_setitem(sa: SharedArray) -> str:
    """Try SharedArray.__setitem__ in a worker; return the message's start."""
    try:
        sa[0] = 1
    except ValueError as exc:
        return str(exc)[:15]
    return "wrote"


def test_from_array_keeps_values_shape_and_dtype() -> None:
    """from_array copies the values; np.asarray and .array see them; the owner may write."""
    source = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    with SharedArray.from_array(source) as sa:
        assert sa.shape == (2, 3, 4)
        assert sa.dtype == np.dtype(np.int32)
        assert sa.nbytes == source.nbytes
        assert np.array_equal(np.asarray(sa), source)
        sa[1, 2, 3] = -5
        assert int(sa.array[1, 2, 3]) == -5
        assert len(sa) == 2
        assert sa.is_owner


def test_new_array_is_zeroed_and_zero_size_works() -> None:
    """SharedArray(shape, dtype) starts zeroed; an empty shape is allowed."""
    with SharedArray((3, 2), np.float32) as sa:
        assert np.array_equal(sa.array, np.zeros((3, 2), np.float32))
    with SharedArray((0, 5), "u1") as empty:
        assert empty.array.shape == (0, 5)


def test_asarray_dtype_and_copy() -> None:
    """__array__ honours dtype= and copy=True (a copy does not alias shared memory)."""
    with SharedArray.from_array(np.arange(4)) as sa:
        as_float = np.asarray(sa, dtype=np.float64)
        copied = np.array(sa, copy=True)
        assert as_float.dtype == np.dtype(np.float64)
        assert not np.shares_memory(copied, sa.array)
        assert np.shares_memory(np.asarray(sa), sa.array)


def test_pickle_is_a_small_handle_and_round_trips_to_the_same_object() -> None:
    """A 8 MB array pickles to a few hundred bytes; unpickling in the owner returns the same object."""
    with SharedArray((1024, 1024), np.float64) as sa:
        payload = pickle.dumps(sa)
        assert len(payload) < 400
        assert pickle.loads(payload) is sa


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [("3", np.float64), ((2, -1), np.float64), ((2,), object), ((2.5,), np.float64)],
)
def test_bad_arguments_raise_clear_errors(shape: Any, dtype: Any) -> None:
    """Bad shapes and object dtypes raise TypeError/ValueError naming what was expected."""
    with pytest.raises((TypeError, ValueError), match=r"SharedArray\(\)"):
        SharedArray(shape, dtype)


def test_close_frees_the_segment_and_is_idempotent() -> None:
    """close() unlinks the segment at once; a second close is harmless; use after close is a clear error."""
    sa = SharedArray((10,), np.uint8)
    name = sa.name
    assert os.path.exists(os.path.join(SHM, name))
    sa.close()
    sa.close()
    assert not os.path.exists(os.path.join(SHM, name))
    assert sa.closed
    with pytest.raises(SharedArrayClosedError, match="closed"):
        _ = sa.array
    with pytest.raises(SharedArrayClosedError, match="cannot pickle"):
        pickle.dumps(sa)
    assert sa.shape == (10,)


def test_close_with_views_alive_still_unlinks() -> None:
    """A view held by the user keeps its memory valid after close(), but the name is freed."""
    sa = SharedArray.from_array(np.arange(5))
    view = sa.array
    name = sa.name
    sa.close()
    assert not os.path.exists(os.path.join(SHM, name))
    assert view.tolist() == [0, 1, 2, 3, 4]


def test_garbage_collection_frees_the_segment() -> None:
    """Dropping the last reference unlinks the segment (weakref finalizer)."""
    sa = SharedArray((100,), np.int64)
    name = sa.name
    del sa
    gc.collect()
    assert not os.path.exists(os.path.join(SHM, name))


def test_threads_create_and_close_concurrently_without_leaks() -> None:
    """8 threads creating and closing 20 arrays each, started on a Barrier: unique names, no leaks."""
    barrier = threading.Barrier(8)
    names: list[str] = []
    names_lock = threading.Lock()
    before = segments(os.getpid())

    def run() -> None:
        barrier.wait()
        for i in range(20):
            with SharedArray.from_array(np.full(16, i)) as sa:
                assert int(sa.array.sum()) == 16 * i
                with names_lock:
                    names.append(sa.name)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 160
    assert segments(os.getpid()) == before


@given(hnp.arrays(dtype=hnp.scalar_dtypes(), shape=hnp.array_shapes(min_dims=0, max_side=5)))
def test_any_numeric_array_round_trips(source: np.ndarray) -> None:
    """Property: from_array gives back exactly the same array, for any scalar dtype and shape."""
    with SharedArray.from_array(source) as sa:
        assert sa.shape == source.shape
        assert sa.dtype == source.dtype
        assert sa.array.tobytes() == source.tobytes()  # bit-exact, NaN and NaT included


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_workers_attach_read_only_views(method: str) -> None:
    """Workers of every start method read the owner's data through a read-only attached view."""
    ctx = multiprocessing.get_context(method)
    with SharedArray.from_array(np.arange(1000, dtype=np.float64)) as sa:
        with ctx.Pool(2) as pool:
            results = pool.map(worker_read, [sa] * 4)
            writes = pool.map(worker_write, [sa] * 2)
            setitems = pool.map(worker_setitem, [sa] * 2)
        expected = float(np.arange(1000).sum())
        assert results == [(expected, False, False)] * 4
        assert writes == ["ValueError"] * 2
        assert setitems == ["cannot write to"] * 2
        assert sa.array.flags.writeable


def worker_wait_then_read(sa: SharedArray, ready: Any, go: Any) -> None:
    """Attach, signal, wait for the owner's write, then report the value via exit code."""
    _ = sa.array
    ready.set()
    go.wait(10)
    os._exit(int(sa.array[0]))


@pytest.mark.slow
def test_owner_writes_after_attach_are_visible_to_spawned_worker() -> None:
    """A spawn worker that already attached sees a later write by the owner (same pages, no copy)."""
    ctx = multiprocessing.get_context("spawn")
    with SharedArray((4,), np.uint8) as sa:
        ready, go = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=worker_wait_then_read, args=(sa, ready, go))
        proc.start()
        assert ready.wait(30)
        sa[0] = 42
        go.set()
        proc.join(30)
        assert proc.exitcode == 42


def run_script(code: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run `code` as a script file in a fresh interpreter (spawn workers re-import it)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "script.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(code))
        return run_file(script, timeout)


def run_file(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a script file with this venv's Python."""
    return subprocess.run(
        [sys.executable, script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_spawn_workers_exiting_do_not_unlink_and_print_nothing() -> None:
    """bpo-39959 on 3.11: workers that attach then exit leave the segment alone and print no tracker noise."""
    result = run_script(
        """
        import multiprocessing, os, numpy as np
        from threadsafe_gen import SharedArray

        def total(sa):
            return int(sa.array.sum())

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            sa = SharedArray.from_array(np.arange(10))
            for _ in range(2):  # two pools: workers attach, exit, and the next pool attaches again
                with ctx.Pool(2) as pool:
                    assert pool.map(total, [sa] * 4) == [45] * 4
            print(os.path.exists("/dev/shm/" + sa.name), sa.name)
        """
    )
    assert result.returncode == 0, result.stderr
    exists, name = result.stdout.split()
    assert exists == "True"
    assert result.stderr == ""
    assert not os.path.exists(os.path.join(SHM, name))


@pytest.mark.slow
def test_normal_exit_without_close_frees_everything() -> None:
    """A script that never closes its arrays leaves nothing in /dev/shm and no reaper process."""
    result = run_script(
        """
        import os, numpy as np
        from threadsafe_gen import SharedArray, _shared
        kept = [SharedArray((1000,), np.uint8) for _ in range(3)]
        print(os.getpid(), _shared._reaper_pid, " ".join(a.name for a in kept))
        """
    )
    assert result.returncode == 0, result.stderr
    pid, reaper, *names = result.stdout.split()
    assert len(names) == 3
    assert all(wait_until_gone(n) for n in names)
    assert segments(int(pid)) == set()
    assert wait_until_dead(int(reaper))


def wait_until_dead(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` no longer exists (or is a zombie awaiting its reaper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_sigkill_of_the_owner_frees_segments_even_with_a_forked_child_alive() -> None:
    """SIGKILL the owner while its forked child still maps the array: the segment is unlinked anyway."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, sys, time, numpy as np
                from threadsafe_gen import SharedArray, _shared
                sa = SharedArray.from_array(np.arange(100))
                child = os.fork()
                if child == 0:
                    time.sleep(60)   # keeps the mapping (and would keep an inherited pipe)
                    os._exit(0)
                print(sa.name, child, _shared._reaper_pid, flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = 0
    try:
        assert proc.stdout is not None
        name, child_text, reaper = proc.stdout.readline().split()
        child = int(child_text)
        assert os.path.exists(os.path.join(SHM, name))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until_gone(name)
        assert wait_until_dead(int(reaper))  # the reaper cleaned up and left
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        if child:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert segments(proc.pid) == set()


@pytest.mark.slow
def test_orphan_sweep_removes_segments_of_dead_owners() -> None:
    """If owner and reaper both died, the next owner sweeps their tsg_<pid>_* segments."""
    result = run_script(
        """
        import os, signal, numpy as np
        from threadsafe_gen import _shared
        from threadsafe_gen import SharedArray
        sa = SharedArray((10,), np.uint8)
        os.kill(_shared._reaper_pid, signal.SIGKILL)   # simulate losing the reaper as well
        os.waitpid(_shared._reaper_pid, 0)
        print(sa.name, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    name = result.stdout.split()[0]
    assert os.path.exists(os.path.join(SHM, name))
    # A new owner process sweeps when it starts its reaper.
    sweep = run_script(
        "import numpy as np; from threadsafe_gen import SharedArray; SharedArray((1,), np.uint8).close()"
    )
    assert sweep.returncode == 0, sweep.stderr
    assert not os.path.exists(os.path.join(SHM, name))


@pytest.mark.slow
def test_attaching_after_the_owner_closed_is_a_clear_error() -> None:
    """A spawn worker unpickling a handle whose segment was freed gets SharedArrayClosedError."""
    sa = SharedArray((3,), np.uint8)
    payload = pickle.dumps(sa)
    sa.close()
    result = run_script(
        f"""
        import pickle
        from threadsafe_gen.errors import SharedArrayClosedError
        try:
            pickle.loads({payload!r})
        except SharedArrayClosedError as exc:
            print("closed-error", "no longer exists" in str(exc))
        """
    )
    assert result.stdout.split() == ["closed-error", "True"], result.stderr


def test_not_enough_shared_memory_is_a_clear_error_not_sigbus() -> None:
    """Asking for more than /dev/shm holds raises OSError naming the sizes, and leaves nothing behind."""
    st = os.statvfs(SHM)
    too_big = st.f_blocks * st.f_frsize + (1 << 30)
    before = segments(os.getpid())
    with pytest.raises(OSError, match=r"not enough room.*--shm-size"):
        SharedArray((too_big,), np.uint8)
    assert segments(os.getpid()) == before


# Run as a script: a thread keeps creating and closing arrays (taking the module's lock) while
# the main thread forks children that each create one. Children still running at the deadline
# are killed and their segments removed, so a failure leaves nothing behind either.
FORK_WHILE_CHURNING = """
import json, os, signal, sys, threading, time, warnings
import numpy as np
from threadsafe_gen import SharedArray, _shared

warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a multi-threaded process
stop = threading.Event()

def churn():
    while not stop.is_set():
        SharedArray((64,), np.uint8).close()

thread = threading.Thread(target=churn)
thread.start()
time.sleep(0.05)
read_end, write_end = os.pipe()
children = []
for _ in range({n}):
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        with SharedArray((8,), np.uint8) as sa:
            sa[0] = 1
        os.write(write_end, f"{{_shared._reaper_pid}}\\n".encode())
        os.close(write_end)
        sys.exit(0)   # a normal exit: atexit stops and reaps this child's own reaper
    children.append(pid)
    time.sleep(0.002)
os.close(write_end)
deadline = time.monotonic() + {timeout}
codes = {{}}
while len(codes) < len(children) and time.monotonic() < deadline:
    for pid in children:
        if pid not in codes:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = os.waitstatus_to_exitcode(status)
    time.sleep(0.01)
hung = [pid for pid in children if pid not in codes]
for pid in hung:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    for entry in os.listdir("/dev/shm"):
        if entry.startswith(f"tsg_{{pid}}_"):
            os.unlink("/dev/shm/" + entry)
stop.set()
thread.join()
with os.fdopen(read_end) as f:
    reapers = f.read().split()
print(json.dumps({{"children": children, "hung": hung, "codes": sorted(set(codes.values())), "reapers": reapers}}))
"""


@pytest.mark.slow
def test_forked_children_create_arrays_while_another_thread_creates_and_closes() -> None:
    """Issue 11 item 1: fork while another thread holds the module lock; every child's first
    SharedArray() still works (the lock is ours and is re-created in the child), no leaks."""
    n = 20
    result = run_script(FORK_WHILE_CHURNING.format(n=n, timeout=30))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["hung"] == [], f"{len(report['hung'])} of {n} forked children hung"
    assert report["codes"] == [0]
    assert len(report["reapers"]) == n  # each child created, used and closed its array
    for pid in [*report["children"], *map(int, report["reapers"])]:
        assert wait_until_dead(pid)
        assert segments(pid) == set()


def fake_segment(name: str) -> str:
    """Create an empty /dev/shm/<name> (what a segment of another process looks like here)."""
    fd = os.open(os.path.join(SHM, name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.close(fd)
    return name


def test_sweep_removes_only_segments_whose_owner_is_provably_gone() -> None:
    """Issue 11 item 2: another PID namespace's segment (its pid means nothing here) and a name
    without identity are left alone; ours whose owner is gone or whose pid was reused go."""
    namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    with open("/proc/sys/kernel/pid_max") as f:
        no_such_pid = int(f.read()) + 1  # above pid_max: can never be a live process here
    start = _shared._start_time(os.getpid())
    assert start is not None
    token = os.urandom(6).hex()
    foreign = fake_segment(f"tsg_{no_such_pid}_100_{int(namespace) + 1}_{token}")
    no_identity = fake_segment(f"tsg_{no_such_pid}_{token}")
    dead = fake_segment(f"tsg_{no_such_pid}_100_{namespace}_{token}")
    reused = fake_segment(f"tsg_{os.getpid()}_{int(start) - 1}_{namespace}_{token}")
    alive = fake_segment(f"tsg_{os.getpid()}_{start}_{namespace}_{token}")
    try:
        _shared._sweep_orphans()
        left = {
            name
            for name in (foreign, no_identity, dead, reused, alive)
            if os.path.exists(os.path.join(SHM, name))
        }
        assert left == {foreign, no_identity, alive}
    finally:
        for name in (foreign, no_identity, dead, reused, alive):
            if os.path.exists(os.path.join(SHM, name)):
                os.unlink(os.path.join(SHM, name))


def test_segment_names_carry_the_owner_identity() -> None:
    """On Linux a name records pid, start time and PID namespace, so the sweep can judge it."""
    with SharedArray((1,), np.uint8) as sa:
        pid, start, namespace, _token = sa.name.removeprefix("tsg_").split("_")
    assert int(pid) == os.getpid()
    assert start == _shared._start_time(os.getpid())
    assert int(namespace) == os.stat("/proc/self/ns/pid").st_ino


def unshare_works(*flags: str) -> bool:
    """Whether this machine lets us start a process in a new PID namespace (root, util-linux)."""
    try:
        probe = subprocess.run(
            ["unshare", "--pid", "--fork", *flags, "true"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


# Runs in a new PID namespace: allocates pids from `first` on (so the owner's pid is unlikely to
# exist outside, where the old sweep would have called it dead), creates an array, reports its
# name and waits for a line on stdin before closing it.
IN_NAMESPACE = """
import os, sys
try:
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write("{first}")
except OSError:
    pass
if os.fork() == 0:
    import numpy as np
    from threadsafe_gen import SharedArray
    with SharedArray((4,), np.uint8) as sa:
        print(os.getpid(), sa.name, flush=True)
        sys.stdin.readline()
    sys.exit(0)
os.wait()
"""


@pytest.mark.slow
@pytest.mark.parametrize("mount_proc", [True, False], ids=["own-proc", "host-proc"])
def test_sweep_leaves_a_live_segment_of_another_pid_namespace(mount_proc: bool) -> None:
    """Issue 11 item 2 for real: an owner in another PID namespace (sharing /dev/shm) keeps its
    segment through our sweep, and frees it itself when it closes it."""
    flags = ["--mount-proc"] if mount_proc else []
    if not unshare_works(*flags):
        pytest.skip("cannot create a PID namespace here (needs root and util-linux unshare)")
    with open("/proc/sys/kernel/pid_max") as f:
        first = int(f.read()) - 1000
    proc = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            *flags,
            sys.executable,
            "-c",
            IN_NAMESPACE.format(first=first),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        pid_text, name = proc.stdout.readline().split()
        assert os.path.exists(os.path.join(SHM, name))
        _shared._sweep_orphans()
        assert os.path.exists(os.path.join(SHM, name)), (
            f"swept a live segment (owner pid {pid_text} in its namespace)"
        )
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
        assert wait_until_gone(name)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdin.close()
        proc.stdout.close()
