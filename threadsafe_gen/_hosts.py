"""Host identity: which machine of a multi-machine run is this, and how many are there?

Public: :class:`HostInfo`, :func:`host_info` and :func:`set_hosts`. Internal:
:func:`use_hosts` (a thread's own setting, for ``check_loader(hosts=N)`` and the adapters
that receive a ``tf.distribute.InputContext``) and :func:`hosts_from_input_context`.

Nothing here imports TensorFlow, torch or JAX: a framework is asked only when the program
already imported it (it is in ``sys.modules``), and only through calls that cannot start it
(see NOTE [ Asking JAX without starting it ]).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "ENV_COUNT",
    "ENV_INDEX",
    "HostInfo",
    "host_info",
    "hosts_from_input_context",
    "set_hosts",
    "use_hosts",
]

# NOTE [ Host detection precedence ]
# host_info() takes the first of these that gives an answer (docs/how-to/several-machines.md
# lists them for users):
#   1. a thread's own setting (use_hosts: check_loader(hosts=N), an InputContext given to an
#      adapter);
#   2. set_hosts(index, count), for the whole process;
#   3. THREADSAFE_GEN_HOST_INDEX and THREADSAFE_GEN_HOST_COUNT;
#   4. torch.distributed, when imported and initialised: get_rank(), get_world_size();
#   5. jax, when imported and jax.distributed initialised: its process id and count;
#   6. KERAS_DISTRIBUTION_PROCESS_ID / KERAS_DISTRIBUTION_NUM_PROCESSES (what
#      keras.distribution.initialize() reads);
#   7. torchrun's RANK / WORLD_SIZE (with MASTER_ADDR), so spawned DataLoader workers of a
#      torchrun job, which do not see the parent's process group, still know their host;
#   8. TF_CONFIG: the input-producing tasks of tf.distribute's multi-worker strategies, the
#      chief(s) then the workers, which is how TensorFlow numbers its input pipelines
#      (InputContext.input_pipeline_id); a ps or evaluator task produces no training input;
#   9. otherwise one host.
# Explicit settings come first so a user can always override; initialised frameworks come
# before environment variables, because a process group is the truth and a variable may be
# left over from a launcher.

# NOTE [ Asking JAX without starting it ]
# jax.process_index() and process_count() initialise JAX's backend when it was not yet, and
# a later jax.distributed.initialize() then fails ("must be called before any JAX calls that
# might initialise the XLA backend"). So JAX is asked only when its distributed client
# exists, and the answer is read from jax.distributed's own state (process_id,
# num_processes): nothing is called. If a JAX release moves that state, JAX is simply not
# detected (set_hosts() or the environment variables still work).

#: Environment variable: this host's index, ``0 <= index < count``.
ENV_INDEX = "THREADSAFE_GEN_HOST_INDEX"
#: Environment variable: the number of hosts.
ENV_COUNT = "THREADSAFE_GEN_HOST_COUNT"


@dataclasses.dataclass(frozen=True)
class HostInfo:
    """Which host (machine, or training process) this is, of how many, and who said so.

    Returned by :func:`host_info`. In a run on several machines, each host must read only its
    own part of the data; :func:`threadsafe_gen.shard` and the ``threadsafe_gen.keras``
    adapters use this to split the data over hosts x local workers.

    Args:
        index: this host's index, ``0 <= index < count``.
        count: how many hosts read the data.
        source: where the answer came from, e.g. ``"TF_CONFIG"``, ``"torch.distributed"``,
            ``"set_hosts()"`` or ``"single host"`` when nothing was detected.

    Raises:
        ValueError: ``count < 1`` or ``index`` out of range.

    >>> HostInfo(index=1, count=2, source="set_hosts()")
    HostInfo(index=1, count=2, source='set_hosts()')
    """

    index: int
    count: int
    source: str = "set_hosts()"

    def __post_init__(self) -> None:
        for name in ("index", "count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                msg = f"HostInfo expected {name} to be an int, got {value!r} (type={type(value).__name__})."
                raise TypeError(msg)
        if self.count < 1 or not 0 <= self.index < self.count:
            msg = (
                f"HostInfo expected 0 <= index < count, got index={self.index!r}, "
                f"count={self.count!r} (from {self.source})."
            )
            raise ValueError(msg)


_SINGLE = HostInfo(0, 1, "single host")

_explicit: HostInfo | None = None


class _Local(threading.local):
    override: HostInfo | None = None


_local = _Local()


def set_hosts(index: int | None, count: int | None = None) -> None:
    """Say which host this process is, of how many: for every later :func:`host_info`.

    Use it when your launcher is not detected (see :func:`host_info` for what is), or to
    override what is: call it once at start-up, before building the dataset. It applies to
    this process and to worker processes that threadsafe_gen starts afterwards (their
    :class:`~threadsafe_gen.WorkerInfo` carries it); processes started by other engines, such
    as spawned torch DataLoader workers, see it only if you call it there too, or set the
    environment variables ``THREADSAFE_GEN_HOST_INDEX`` and ``THREADSAFE_GEN_HOST_COUNT``
    before they start. ``set_hosts(None)`` goes back to detection.

    Args:
        index: this host's index, ``0 <= index < count``; None clears the setting.
        count: the number of hosts (required with an index).

    Raises:
        TypeError: *index* or *count* is not an int.
        ValueError: *count* is missing or < 1, or *index* is out of range.

    >>> set_hosts(1, 2)
    >>> host_info()
    HostInfo(index=1, count=2, source='set_hosts()')
    >>> set_hosts(None)
    """
    global _explicit
    if index is None:
        _explicit = None
        return
    if count is None:
        msg = (
            f"set_hosts({index!r}) needs the number of hosts too, e.g. set_hosts({index!r}, 4): "
            "the data is split over all of them. Pass set_hosts(None) to clear the setting."
        )
        raise ValueError(msg)
    _explicit = HostInfo(index, count, "set_hosts()")


@contextlib.contextmanager
def use_hosts(info: HostInfo | None) -> Iterator[HostInfo | None]:
    """Internal: make *info* this thread's host for the ``with`` block (None: detect).

    Used by ``check_loader(hosts=N)`` to simulate each host, and by the adapters around the
    code that builds their workers' identities when an ``InputContext`` was given. Scopes
    nest; the previous value is restored on exit.
    """
    previous = _local.override
    _local.override = info
    try:
        yield info
    finally:
        _local.override = previous


def host_info() -> HostInfo:
    """Return which host this is, of how many, detected without importing any framework.

    Use it to split data by host yourself (``files[h.index::h.count]``), or to see what
    threadsafe_gen detected. :func:`threadsafe_gen.shard` and the ``threadsafe_gen.keras``
    adapters already use it. The first source that answers wins:

    1. :func:`set_hosts` (or the ``InputContext`` given to an adapter, for that adapter);
    2. the environment variables ``THREADSAFE_GEN_HOST_INDEX`` and ``THREADSAFE_GEN_HOST_COUNT``;
    3. ``torch.distributed``, if your program imported it and initialised a process group;
    4. JAX, if your program imported it and called ``jax.distributed.initialize()``;
    5. ``KERAS_DISTRIBUTION_PROCESS_ID`` and ``KERAS_DISTRIBUTION_NUM_PROCESSES``;
    6. torchrun's ``RANK`` and ``WORLD_SIZE`` (with ``MASTER_ADDR``);
    7. ``TF_CONFIG`` (``tf.distribute`` multi-worker strategies): the chief and the workers,
       numbered as TensorFlow numbers its input pipelines;
    8. otherwise a single host: ``HostInfo(0, 1, "single host")``.

    TensorFlow, torch and JAX are never imported, and JAX's backend is never started.

    Returns:
        A :class:`HostInfo` (``count == 1`` when nothing says otherwise).

    Raises:
        ValueError: ``THREADSAFE_GEN_HOST_INDEX`` / ``_COUNT`` are set but not valid.

    >>> host_info().count
    1
    """
    info = _local.override
    if info is not None:
        return info
    if _explicit is not None:
        return _explicit
    for detect in _DETECTORS:
        info = detect()
        if info is not None:
            return info
    return _SINGLE


def hosts_from_input_context(context: Any) -> HostInfo:
    """Internal: the host of a ``tf.distribute.InputContext`` (its input pipeline).

    Raises:
        TypeError: *context* has no ``input_pipeline_id`` / ``num_input_pipelines``.
    """
    index = getattr(context, "input_pipeline_id", None)
    count = getattr(context, "num_input_pipelines", None)
    if not isinstance(index, int) or not isinstance(count, int):
        msg = (
            f"input_context= expected a tf.distribute.InputContext (with input_pipeline_id and "
            f"num_input_pipelines), got {context!r} (type={type(context).__name__}). Pass the "
            "context that strategy.distribute_datasets_from_function(fn) gives fn."
        )
        raise TypeError(msg)
    return HostInfo(index, count, "tf.distribute.InputContext")


# --- detectors ------------------------------------------------------------------------------


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _from_our_env() -> HostInfo | None:
    raw_index, raw_count = os.environ.get(ENV_INDEX), os.environ.get(ENV_COUNT)
    if raw_index is None and raw_count is None:
        return None
    index, count = _env_int(ENV_INDEX), _env_int(ENV_COUNT)
    if index is None or count is None or count < 1 or not 0 <= index < count:
        msg = (
            f"{ENV_INDEX}={raw_index!r} and {ENV_COUNT}={raw_count!r} do not name a host: "
            "set both, to integers with 0 <= index < count, or unset both. threadsafe_gen "
            "reads them to split the data between hosts; a wrong value would make hosts "
            "read the same items or skip some."
        )
        raise ValueError(msg)
    return HostInfo(index, count, f"{ENV_INDEX}/{ENV_COUNT}")


def _from_torch() -> HostInfo | None:
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if not (dist.is_available() and dist.is_initialized()):
            return None
        return HostInfo(int(dist.get_rank()), int(dist.get_world_size()), "torch.distributed")
    except Exception:  # a half-torn-down process group: not an answer
        return None


def _from_jax() -> HostInfo | None:
    # See NOTE [ Asking JAX without starting it ].
    if "jax" not in sys.modules:
        return None
    state = getattr(sys.modules.get("jax._src.distributed"), "global_state", None)
    if getattr(state, "client", None) is None:
        return None
    index, count = getattr(state, "process_id", None), getattr(state, "num_processes", None)
    if not isinstance(index, int) or not isinstance(count, int) or not 0 <= index < count:
        return None
    return HostInfo(index, count, "jax.distributed")


def _from_keras_env() -> HostInfo | None:
    index = _env_int("KERAS_DISTRIBUTION_PROCESS_ID")
    count = _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES")
    if index is None or count is None or count < 1 or not 0 <= index < count:
        return None
    return HostInfo(index, count, "KERAS_DISTRIBUTION_PROCESS_ID/NUM_PROCESSES")


def _from_torchrun_env() -> HostInfo | None:
    if not os.environ.get("MASTER_ADDR"):
        return None
    index, count = _env_int("RANK"), _env_int("WORLD_SIZE")
    if index is None or count is None or count < 1 or not 0 <= index < count:
        return None
    return HostInfo(index, count, "RANK/WORLD_SIZE (torchrun)")


def _from_tf_config() -> HostInfo | None:
    raw = os.environ.get("TF_CONFIG")
    return _parse_tf_config(raw) if raw else None


@functools.lru_cache(maxsize=8)
def _parse_tf_config(raw: str) -> HostInfo | None:
    try:
        config = json.loads(raw)
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        task_type, task_index = str(task.get("type")), int(task.get("index", 0))
        producers = [("chief", i) for i in range(len(cluster.get("chief") or ()))]
        producers += [("worker", i) for i in range(len(cluster.get("worker") or ()))]
    except (ValueError, TypeError, AttributeError):  # TensorFlow reports a bad TF_CONFIG
        return None
    if (task_type, task_index) not in producers:
        return None  # ps, evaluator: no training input
    return HostInfo(producers.index((task_type, task_index)), len(producers), "TF_CONFIG")


_DETECTORS: tuple[Callable[[], HostInfo | None], ...] = (
    _from_our_env,
    _from_torch,
    _from_jax,
    _from_keras_env,
    _from_torchrun_env,
    _from_tf_config,
)
