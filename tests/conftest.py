"""Shared fixtures and the Hypothesis profile for CI."""

from __future__ import annotations

import os

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is in the [dev] extra
    pass
else:
    # Concurrency properties start threads per example: keep examples bounded and do not fail
    # on the machine's speed (2 cores in CI).
    settings.register_profile(
        "ci",
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", max_examples=30, deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")

# TensorFlow logs a lot at import; keep test output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
