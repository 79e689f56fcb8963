"""threadsafe_gen.keras.legacy_fit_input (threadsafe_gen/keras/_legacy.py).

What to pass to tf_keras fit() instead of its enqueuers: generators and Sequences in tf.data
threads or worker processes, exactly once per epoch.
"""

from __future__ import annotations

import loaders.keras as kl
import numpy as np
import pytest
from helpers.keras_fit import ALL_IDS, distinct_noise, fit_tf_keras, ids

pytestmark = pytest.mark.keras

# --- tf_keras -------------------------------------------------------------------------------


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_generator() -> None:
    """tf_keras fit(legacy_fit_input(generator call, workers=4)): each id exactly once in each of 2 epochs."""
    from threadsafe_gen.keras import legacy_fit_input

    rows = fit_tf_keras(legacy_fit_input(kl.id_batches(), workers=4, batches=8), epochs=2)
    assert [ids(r) for r in rows] == [ALL_IDS] * 2


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_sequence_processes() -> None:
    """tf_keras with a Sequence in 2 forked workers via legacy_fit_input: exactly once, on_epoch_end once per epoch gap."""
    from threadsafe_gen.keras import legacy_fit_input

    seq = kl.GuardedTfkAugSequence()
    data = legacy_fit_input(seq, workers=2, use_multiprocessing=True, start_method="fork")
    rows = fit_tf_keras(data, epochs=3)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert distinct_noise(np.concatenate(rows)) == 3 * kl.N_SAMPLES
    assert seq.epochs_ended == 2


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_sequence_threads_in_order() -> None:
    """legacy_fit_input(Sequence, workers=4) threads: index order kept, every id once per epoch."""
    from threadsafe_gen.keras import legacy_fit_input

    rows = fit_tf_keras(legacy_fit_input(kl.TfkAugSequence(), workers=4), epochs=2)
    assert [[int(i) for i in r[:, 0]] for r in rows] == [ALL_IDS] * 2
