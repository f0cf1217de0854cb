"""Test doubles for model verification.

:class:`HashingEncoder` stands in for the real sentence encoder (whose forward pass is slow on
CI's two cores): each word is hashed into one of ``DIM`` buckets, the counts are L2-normalised.
Deterministic, no model files, and linear-probe-learnable when classes use different words.
``calls`` counts every text it embeds, so tests can prove the cache saved work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

DIM = 256


class HashingEncoder:
    calls = 0  # texts embedded, across instances (the service keeps one per process)

    def __init__(self, model_dir: str | None = None) -> None:
        self.model_dir = model_dir
        self.model_revision = "hashing-test-double/v1"

    def embedding_revision(self, max_length: int = 128) -> str:
        return f"{self.model_revision}/len{max_length}"

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 128):
        HashingEncoder.calls += len(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                bucket = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16) % DIM
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


ENCODER_PATH = "tests.evaluation.verification_doubles.HashingEncoder"
