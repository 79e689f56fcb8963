"""The fix of tsg552.py: clean of TSG552."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import grain


class Jitter(grain.transforms.RandomMap):
    def random_map(self, x, rng):
        return x + rng.normal(size=x.shape)  # seeded per element by Grain
