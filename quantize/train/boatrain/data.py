"""Byte data: per-file train/validation split and deterministic epoch batching."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np


@dataclass
class FileSplit:
    path: str
    train: np.ndarray  # uint8, head of the file
    val: np.ndarray    # uint8, tail of the file


def load_splits(paths: Sequence[str], val_frac: float) -> List[FileSplit]:
    """Read each file; the last ``val_frac`` of every file is its validation part."""
    if not 0.0 <= val_frac < 1.0:
        raise ValueError("val-frac must be in [0, 1)")
    out = []
    for p in paths:
        with open(p, "rb") as f:
            buf = np.frombuffer(f.read(), dtype=np.uint8)
        n_val = int(round(len(buf) * val_frac))
        cut = len(buf) - n_val
        out.append(FileSplit(os.fspath(p), buf[:cut], buf[cut:]))
    return out


class EpochBatcher:
    """Non-overlapping windows of ``seq_len + 1`` bytes (stride ``seq_len``) from the
    training parts of all files, shuffled per epoch with ``(seed, epoch)``.

    A window never crosses a file boundary; each window is an independent sequence
    starting from the zero state.  ``batch(epoch, i)`` is a pure function of its
    arguments, which makes resuming exact.
    """

    def __init__(self, splits: Sequence[FileSplit], seq_len: int, batch_size: int, seed: int):
        self.seq_len, self.batch_size, self.seed = seq_len, batch_size, seed
        self.sources = [s.train for s in splits]
        starts = []
        for fi, buf in enumerate(self.sources):
            n = (len(buf) - 1) // seq_len  # windows of seq_len+1 bytes, stride seq_len
            if n > 0:
                starts.append(np.stack([np.full(n, fi), np.arange(n) * seq_len], axis=1))
        self.windows = np.concatenate(starts) if starts else np.zeros((0, 2), dtype=np.int64)
        if len(self.windows) == 0:
            raise ValueError(f"no training window of {seq_len + 1} bytes in the input")
        # an epoch is the whole-batch part; keep at least one batch for tiny inputs
        self.steps_per_epoch = max(1, len(self.windows) // batch_size)
        self._perm_epoch, self._perm = None, None

    @property
    def bytes_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def _order(self, epoch: int) -> np.ndarray:
        if self._perm_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            n_needed = self.steps_per_epoch * self.batch_size
            perm = rng.permutation(len(self.windows))
            while len(perm) < n_needed:  # tiny data: repeat windows to fill a batch
                perm = np.concatenate([perm, rng.permutation(len(self.windows))])
            self._perm_epoch, self._perm = epoch, perm[:n_needed]
        return self._perm

    def batch(self, epoch: int, i: int) -> np.ndarray:
        """uint8 [batch_size, seq_len+1] for step ``i`` of ``epoch``."""
        sel = self.windows[self._order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]]
        L = self.seq_len + 1
        return np.stack([self.sources[f][s:s + L] for f, s in sel])


class ChunkBatcher:
    """Training on whole archive chunks with the state carried (truncated BPTT).

    The compressor codes every chunk of ``chunk_len`` bytes from the zero state, so the
    model should learn on exactly that: each of the ``batch_size`` lanes walks through one
    chunk in pieces of ``seq_len`` bytes, and the caller carries the (detached) state from
    piece to piece.  Piece 0 of a chunk starts from the zero state.  Chunks are the
    non-overlapping ``chunk_len + 1``-byte windows of the training parts, shuffled per
    epoch with ``(seed, epoch)``; ``batch(epoch, i)`` is a pure function of its arguments.
    """

    def __init__(self, splits: Sequence[FileSplit], seq_len: int, batch_size: int, seed: int, chunk_len: int):
        if chunk_len % seq_len:
            raise ValueError(f"chunk-len {chunk_len} is not a multiple of seq-len {seq_len}")
        self.inner = EpochBatcher(splits, chunk_len, batch_size, seed)
        self.seq_len, self.batch_size, self.chunk_len = seq_len, batch_size, chunk_len
        self.pieces = chunk_len // seq_len
        self.steps_per_epoch = self.inner.steps_per_epoch * self.pieces
        self._cache = (None, None)

    @property
    def bytes_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def starts_chunk(self, i: int) -> bool:
        """True when step ``i`` of an epoch is piece 0 of new chunks (reset the state)."""
        return i % self.pieces == 0

    def batch(self, epoch: int, i: int) -> np.ndarray:
        """uint8 [batch_size, seq_len+1]: piece ``i % pieces`` of chunk group ``i // pieces``."""
        key = (epoch, i // self.pieces)
        if self._cache[0] != key:
            self._cache = (key, self.inner.batch(epoch, i // self.pieces))
        p = i % self.pieces
        return self._cache[1][:, p * self.seq_len:(p + 1) * self.seq_len + 1]
