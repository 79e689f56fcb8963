"""Tiny data for the corpus loaders' factories: files in a temporary folder, made in milliseconds.

Every sample is distinct (row i starts with the value i), so duplicated or skipped samples show.
"""

from __future__ import annotations

import io
import sqlite3
import wave
from pathlib import Path

import numpy as np

__all__ = [
    "labels",
    "rows",
    "write_csv",
    "write_h5",
    "write_images",
    "write_lmdb",
    "write_npy_samples",
    "write_sqlite",
    "write_texts",
    "write_wavs",
]


def rows(n: int, width: int = 4) -> np.ndarray:
    """n distinct float32 rows; row i is i, i + 0.1, i + 0.2, ..."""
    return np.arange(n, dtype=np.float32)[:, None] + np.arange(width, dtype=np.float32) / 10


def labels(n: int, classes: int = 3) -> np.ndarray:
    return (np.arange(n) % classes).astype(np.int64)


def write_npy_samples(folder: Path, n: int, width: int = 4) -> list[str]:
    """One .npy file per sample; returns the sample ids."""
    folder.mkdir(parents=True, exist_ok=True)
    data = rows(n, width)
    ids = [f"id{i:03d}" for i in range(n)]
    for sample_id, row in zip(ids, data, strict=False):
        np.save(folder / f"{sample_id}.npy", row)
    return ids


def write_images(folder: Path, n: int, size: tuple[int, int] = (12, 10)) -> list[str]:
    """n small RGB PNG files whose pixels encode their number; returns the paths."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        pixels = np.full((size[1], size[0], 3), i % 256, dtype=np.uint8)
        pixels[0, : min(size[0], 3)] = [i // 256, i % 7, 255 - i % 256]
        path = folder / f"img_{i:03d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def write_wavs(folder: Path, n: int, samples: int = 400, rate: int = 8000) -> list[str]:
    """n short mono 16-bit WAV files, each a distinct tone; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(samples) / rate
    paths = []
    for i in range(n):
        tone = (0.3 * np.sin(2 * np.pi * (200 + 25 * i) * t) * 32767).astype("<i2")
        path = folder / f"clip_{i:03d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(tone.tobytes())
        paths.append(str(path))
    return paths


def write_h5(path: Path, n: int, width: int = 4) -> str:
    """An HDF5 file with datasets 'images' (n, width) and 'labels' (n,)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=rows(n, width))
        f.create_dataset("labels", data=labels(n))
    return str(path)


def write_lmdb(path: Path, n: int, width: int = 4) -> str:
    """An LMDB environment with keys b'x-000000' (float32 bytes) and b'y-000000', and b'num'."""
    import lmdb

    data = rows(n, width)
    env = lmdb.open(str(path), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(f"x-{i:06d}".encode(), data[i].tobytes())
            txn.put(f"y-{i:06d}".encode(), str(i % 3).encode())
        txn.put(b"num", str(n).encode())
    env.close()
    return str(path)


def write_sqlite(path: Path, n: int, width: int = 4) -> str:
    """A SQLite file with table samples(id INTEGER PRIMARY KEY, x BLOB, y INTEGER)."""
    data = rows(n, width)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE samples (id INTEGER PRIMARY KEY, x BLOB, y INTEGER)")
        con.executemany(
            "INSERT INTO samples VALUES (?, ?, ?)",
            [(i, data[i].tobytes(), i % 3) for i in range(n)],
        )
    con.close()
    return str(path)


def write_csv(path: Path, n: int) -> str:
    """A CSV with columns id, f1, f2, f3, category, label."""
    buf = io.StringIO()
    buf.write("id,f1,f2,f3,category,label\n")
    for i in range(n):
        buf.write(f"{i},{i}.0,{i * 2}.5,{i % 5}.25,{'abc'[i % 3]},{i % 2}\n")
    path.write_text(buf.getvalue())
    return str(path)


def write_texts(n: int) -> list[str]:
    """n distinct short sentences of varying length."""
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "home"]
    return [
        " ".join([f"w{i}", *(words[(i + k) % len(words)] for k in range(2 + i % 6))])
        for i in range(n)
    ]
