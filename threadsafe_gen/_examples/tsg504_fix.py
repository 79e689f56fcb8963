"""The fix of tsg504.py: clean of TSG504."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import grain


class Jitter(grain.transforms.RandomMap):
    def random_map(self, x, rng):
        return x + rng.normal()  # Grain seeds rng per element: the same in every run


loader = grain.MapDataset.range(64).seed(7).random_map(Jitter())
