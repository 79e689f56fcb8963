"""A training script that imports its generator function from another module and passes it to
`fit_generator(..., workers=16, use_multiprocessing=True)` (issue 10 item 12)."""

# Modelled on: davidkarl/My-Functions:Python/fit_generator_lines_from_file.py (the generator)
# and matterport/Mask_RCNN:mrcnn/model.py (the fit_generator call with worker processes).

from __future__ import annotations

import glob

from . import Expect
from .gen_lib_wav_batches import wav_batch_generator


def main(model, folder):
    paths = sorted(glob.glob(f"{folder}/*.wav"))
    targets = [int(p.rsplit("_", 1)[-1][:-4]) % 2 for p in paths]
    model.fit_generator(
        wav_batch_generator(paths, targets, batch_size=32),
        steps_per_epoch=len(paths) // 32,
        epochs=30,
        workers=16,
        use_multiprocessing=True,
    )


if __name__ == "__main__":
    main(None, "data/wavs")


EXPECT = Expect(
    source="davidkarl/My-Functions:Python/fit_generator_lines_from_file.py",
    lint_must={"TSG451"},
    why="The imported generator is copied into 16 worker processes (TSG451).",
)
