"""Numerical core of model-based data verification (DMOps step 11). No Django, no I/O.

* :mod:`.embed` -- :class:`~.embed.Encoder` (local HF encoder -> unit-norm float32 vectors),
  :func:`~.embed.text_cache_key` for the per-item embedding cache.
* :mod:`.train` -- :func:`~.train.cross_validate` (out-of-fold probabilities, per-label
  scores, majority / weak-label baselines), :func:`~.train.learning_curve`,
  :func:`~.train.read_learning_curve`.
* :mod:`.issues` -- :func:`~.issues.find_suspicious_labels` (cleanlab),
  :func:`~.issues.entropy`, :func:`~.issues.error_pairs`.
* :mod:`.plots` -- SVG strings for the learning curve and confusion matrix.

Submodules are not imported here so that e.g. computing cache keys does not import torch.
"""
