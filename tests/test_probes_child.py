"""The code that runs inside the probes' child processes (_probes/_child.py)."""

from __future__ import annotations

import pickle

import loaders_proc as L
import numpy as np

from threadsafe_gen._probes._child import Payload, fingerprint


def test_fingerprint_depends_on_content_not_identity() -> None:
    """Equal batches give equal digests; dtype, shape and values all count."""
    a = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    b = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint((a[0].astype(np.float64), a[1]))
    assert fingerprint(a) != fingerprint((a[0].reshape(3, 2), a[1]))
    assert fingerprint(a) != fingerprint((a[0] + 1, a[1]))


def test_payload_defers_unpickling_to_the_child() -> None:
    """A Payload pickles the loader as bytes and unpickles it only when asked."""
    loader = L.PureSeq(3)
    restored = pickle.loads(pickle.dumps(Payload(loader)))
    assert restored.data is not None
    assert len(restored.load()) == 3
