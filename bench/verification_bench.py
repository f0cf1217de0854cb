"""Benchmark of the model-based verification core (DMOps step 11) on 10 000 sentences.

Run: ``.venv/bin/python bench/verification_bench.py [--n 10000] [--seed 0]``

Pass 1 (cold): load encoder, embed, 5-fold CV, learning curve (4 sizes x 3 seeds), label
issues. Pass 2 (warm): the same analysis with embeddings read back from an on-disk cache
keyed by ``text_cache_key`` -- what a re-run looks like when no item text changed.
Targets on a 2-core CPU: pass 1 <= 90 s, pass 2 <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.verification.embed import Encoder, text_cache_key  # noqa: E402
from evaluation.verification.issues import error_pairs, find_suspicious_labels  # noqa: E402
from evaluation.verification.train import (  # noqa: E402
    cross_validate,
    learning_curve,
    read_learning_curve,
)

LABELS = ["billing", "shipping", "technical", "account", "feedback"]

VOCAB: dict[str, list[str]] = {
    "amount": ["$12", "$49.99", "$120", "20 euros", "$7.50", "$300", "$15", "£60"],
    "plan": ["premium", "family", "basic", "student", "business", "annual", "monthly"],
    "payment": ["credit card", "PayPal account", "debit card", "bank account", "gift card"],
    "month": ["January", "March", "last month", "May", "September", "December"],
    "product": [
        "headphones",
        "blender",
        "phone case",
        "laptop stand",
        "desk lamp",
        "running shoes",
        "coffee grinder",
        "backpack",
        "monitor",
        "keyboard",
    ],
    "status": ["label created", "in transit", "delivered", "returned to sender", "on hold"],
    "place": ["address", "door", "neighbour's house", "mailbox", "building", "pickup point"],
    "city": ["Berlin", "Leeds", "Austin", "Lyon", "Toronto", "Osaka", "my town"],
    "n": ["three", "five", "ten", "two", "fourteen", "seven"],
    "app": ["app", "desktop client", "web dashboard", "mobile app", "browser extension"],
    "feature": [
        "the calendar",
        "search",
        "dark mode",
        "notifications",
        "the export button",
        "file upload",
        "the settings page",
        "offline mode",
        "the chat",
    ],
    "code": ["500", "E102", "0x80070005", "403", "TIMEOUT", "404", "E-17"],
    "action": [
        "upload a photo",
        "save my changes",
        "export a report",
        "open a file",
        "share a document",
        "print an invoice",
        "sync my contacts",
    ],
    "device": ["iPhone", "Android phone", "Windows laptop", "Mac", "tablet", "Chromebook"],
    "email": ["a new address", "my work email", "my personal email", "a gmail address"],
    "person": ["Maria", "Tom", "my husband", "my colleague", "Priya", "an assistant"],
    "wish": [
        "keyboard shortcuts",
        "a dark theme",
        "shared folders",
        "more languages",
        "weekly summaries",
        "CSV import",
    ],
    "competitor": ["other apps", "the competition", "similar tools", "what others offer"],
}

TEMPLATES: dict[str, list[str]] = {
    "billing": [
        "I was charged {amount} twice for my {plan} subscription",
        "why does my invoice show {amount} this month",
        "please refund the {amount} you took from my {payment}",
        "my {payment} was declined when I tried to pay for the {plan} plan",
        "can I get a receipt for the {amount} payment from {month}",
        "the {plan} plan price went up without any notice",
        "I cancelled in {month} but you still billed my {payment}",
    ],
    "shipping": [
        "my package with the {product} has not arrived after {n} days",
        "the tracking for my {product} order says {status} for a week",
        "the courier left my {product} at the wrong {place}",
        "can you send the {product} to a different {place} instead",
        "the box arrived crushed and the {product} inside is dented",
        "delivery to {city} is taking far too long",
        "I received a {product} but I ordered a {product}",
    ],
    "technical": [
        "the {app} crashes every time I open {feature}",
        "I get error {code} when I try to {action}",
        "{feature} stopped working after the latest update on my {device}",
        "the {app} is extremely slow on my {device}",
        "I cannot sync data between my {device} and my {device}",
        "the {app} freezes when I {action}",
    ],
    "account": [
        "I forgot my password and the reset email never came",
        "how do I change the email on my account to {email}",
        "please delete my account and all of my data",
        "my account got locked after too many login attempts on my {device}",
        "I want to add {person} as a second user on my {plan} account",
        "the two-factor codes are not reaching my {device}",
        "someone else may have logged into my account from {city}",
    ],
    "feedback": [
        "I really love {feature} in the new version, great job",
        "your support agent {person} was extremely helpful",
        "it would be nice if the {app} supported {wish}",
        "the {app} design looks outdated compared to {competitor}",
        "I have been a happy customer for {n} years",
        "please consider adding {wish} to the {app}",
    ],
}

# Messages that genuinely straddle two intents, labelled with the first intent 60 % of the
# time and the second 40 %: irreducible disagreement, as between real annotators.
AMBIGUOUS: list[tuple[str, str, str]] = [
    ("I paid {amount} for the {product} and it never arrived", "billing", "shipping"),
    ("the payment page shows error {code} and I was still charged", "billing", "technical"),
    ("I cannot log in to the {app} on my {device}, it just spins", "account", "technical"),
    ("I get error {code} whenever I try to reset my password", "technical", "account"),
    ("my {plan} account shows the wrong billing email", "account", "billing"),
    ("the {app} says my {product} was delivered but it was not", "shipping", "technical"),
    ("delivery to {city} was fast and the {product} is great", "feedback", "shipping"),
    ("the {app} update fixed my crash, thank you {person}", "feedback", "technical"),
    ("the {plan} plan is too expensive for what the {app} does", "feedback", "billing"),
    ("I was charged {amount} for shipping the {product}", "billing", "shipping"),
]
WHEN = [
    "",
    "",
    "",
    "",
    "yesterday",
    "this morning",
    "since Monday",
    "again",
    "last week",
    "for the third time",
    "today",
    "since the weekend",
]
OPENERS = ["", "", "", "Hi,", "Hello,", "Quick question:", "Urgent:", "Hey,", "Sorry, but"]
CLOSERS = ["", "", "", "Thanks.", "Please help.", "Any update?", "So annoying.", "Cheers."]


def make_dataset(
    n: int, seed: int = 0, noise: float = 0.10, ambiguous: float = 0.15
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Templated support messages: returns (texts, noisy labels, clean labels)."""
    rng = np.random.default_rng(seed)

    def fill(template: str) -> str:
        out = template
        while "{" in out:
            start = out.index("{")
            key = out[start + 1 : out.index("}", start)]
            words = VOCAB[key]
            out = out.replace("{" + key + "}", words[rng.integers(len(words))], 1)
        return out

    def pick(words: list[str]) -> str:
        return words[rng.integers(len(words))]

    clean = np.empty(n, dtype=np.int64)
    texts = []
    for i in range(n):
        if rng.random() < ambiguous:
            template, first, second = AMBIGUOUS[rng.integers(len(AMBIGUOUS))]
            clean[i] = LABELS.index(first if rng.random() < 0.6 else second)
        else:
            clean[i] = rng.integers(len(LABELS))
            template = pick(TEMPLATES[LABELS[clean[i]]])
        core = " ".join(w for w in (fill(template), pick(WHEN)) if w)
        opener, closer = pick(OPENERS), pick(CLOSERS)
        if opener and not core.startswith(("I ", "I'")):
            core = core[0].lower() + core[1:]
        if closer:
            core += "."
        texts.append(" ".join(p for p in (opener, core, closer) if p))
    noisy = clean.copy()
    flip = rng.random(n) < noise
    # Shift by 1..K-1 so a flipped label is always a *different* label.
    noisy[flip] = (clean[flip] + rng.integers(1, len(LABELS), size=flip.sum())) % len(LABELS)
    return texts, noisy, clean


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    # User+system time of this process and finished children (joblib workers): compared
    # with wall time it shows whether the machine was shared during the run.
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, int, float, float, float]] = []

    def timed(self, name: str, n: int, fn: Callable[[], Any]) -> Any:
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = fn()
        dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        self.rows.append((name, n, dt, cpu, peak_mb()))
        print(f"  {name:<36} {dt:7.2f} s wall {cpu:7.2f} s cpu", flush=True)
        return result

    def add(self, name: str, n: int, dt: float, cpu: float) -> None:
        self.rows.append((name, n, dt, cpu, peak_mb()))

    def render(self) -> str:
        lines = [
            f"| {'workload':<36} | {'N':>6} | {'time (s)':>8} | {'cpu (s)':>8} | "
            f"{'rate (/s)':>9} | {'peak RSS (MB)':>13} |",
            "|" + "-" * 38 + "|--------|----------|----------|-----------|---------------|",
        ]
        for name, n, dt, cpu, mb in self.rows:
            rate = f"{n / dt:9.0f}" if dt > 0 and n else f"{'-':>9}"
            lines.append(f"| {name:<36} | {n:>6} | {dt:8.2f} | {cpu:8.2f} | {rate} | {mb:13.0f} |")
        return "\n".join(lines)


def analyse(
    table: Table, X: np.ndarray, y: np.ndarray, texts: list[str], tag: str, n_jobs: int
) -> dict:
    n = len(y)
    cv = table.timed(
        f"{tag}: 5-fold CV (logreg)", n, lambda: cross_validate(X, y, n_folds=5, n_jobs=n_jobs)
    )
    points = table.timed(
        f"{tag}: learning curve (4 sizes x 3)",
        n,
        lambda: learning_curve(
            X, y, fractions=(0.1, 0.25, 0.5, 1.0), seeds=(0, 1, 2), n_jobs=n_jobs
        ),
    )
    probs = np.asarray(cv.oof_pred_probs)
    issues = table.timed(
        f"{tag}: label issues (cleanlab)",
        n,
        lambda: find_suspicious_labels(cv.y_index, probs, label_names=LABELS),
    )
    pairs = error_pairs(cv.y_index, cv.oof_pred, LABELS, texts, pred_probs=probs)
    return {"cv": cv, "points": points, "issues": issues, "pairs": pairs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: CPUs)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel CV folds (joblib)")
    args = ap.parse_args()

    texts, y, y_clean = make_dataset(args.n, seed=args.seed)
    n, n_distinct = len(texts), len(set(texts))
    print(f"{n} texts, {n_distinct} distinct, {(y != y_clean).mean():.1%} labels flipped")
    load_before = os.getloadavg()
    table = Table()

    print("pass 1: cold")
    t_cold, c_cold = time.perf_counter(), cpu_seconds()
    enc = table.timed("cold: load encoder", 0, lambda: Encoder(num_threads=args.threads))
    revision = table.timed("cold: model revision (sha256)", 0, lambda: enc.model_revision)
    t_embed = time.perf_counter()
    X = table.timed(
        f"cold: embed (bs={args.batch_size}, len={args.max_length})",
        n,
        lambda: enc.encode(texts, batch_size=args.batch_size, max_length=args.max_length),
    )
    t_embed = time.perf_counter() - t_embed
    cold = analyse(table, X, y, texts, "cold", args.jobs)
    table.add("TOTAL pass 1 (cold)", n, time.perf_counter() - t_cold, cpu_seconds() - c_cold)

    # Simulated service cache: one row per distinct key, as a DB table of (key, vector) would.
    emb_rev = enc.embedding_revision(args.max_length)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        row_of_key: dict[str, int] = {}
        for i, t in enumerate(texts):
            row_of_key.setdefault(text_cache_key(t, emb_rev), i)
        np.save(cache / "vectors.npy", X[list(row_of_key.values())])
        (cache / "keys.json").write_text(json.dumps(list(row_of_key)))
        del X

        print("pass 2: embeddings from cache")
        t_warm, c_warm = time.perf_counter(), cpu_seconds()

        def load_cached() -> np.ndarray:
            cached_keys = json.loads((cache / "keys.json").read_text())
            vectors = np.load(cache / "vectors.npy")
            row_of = {k: i for i, k in enumerate(cached_keys)}
            wanted = [text_cache_key(t, emb_rev) for t in texts]
            misses = sum(k not in row_of for k in wanted)
            assert misses == 0, f"{misses} cache misses"
            return vectors[[row_of[k] for k in wanted]]

        X2 = table.timed("warm: load embeddings from cache", n, load_cached)
        warm = analyse(table, X2, y, texts, "warm", args.jobs)
        table.add(
            "TOTAL pass 2 (cached embeddings)",
            n,
            time.perf_counter() - t_warm,
            cpu_seconds() - c_warm,
        )
    load_after = os.getloadavg()
    print()
    print(table.render())

    cv = cold["cv"]
    flagged = {d["index"] for d in cold["issues"]}
    noisy_idx = set(np.flatnonzero(y != y_clean).tolist())
    hit = len(flagged & noisy_idx)
    print(
        f"\nembedding rate: {n / t_embed:.0f} sentences/s over {n} inputs "
        f"({n_distinct / t_embed:.0f}/s counting only the {n_distinct} distinct texts)"
    )
    print(
        f"model revision: {revision}  torch threads: {_torch_threads()}  "
        f"CV jobs: {args.jobs}  cpus: {os.cpu_count()}  load avg (1 min) before/after: "
        f"{load_before[0]:.1f}/{load_after[0]:.1f}"
    )
    print(
        f"CV macro-F1 {cv.macro_f1:.3f}  accuracy {cv.accuracy:.3f}  "
        f"(majority baseline macro-F1 {cv.baselines['majority']['macro_f1']:.3f}); "
        f"OOF predictions vs the *clean* labels: accuracy "
        f"{(np.asarray(cv.oof_pred) == y_clean).mean():.3f}"
    )
    print("learning curve:")
    for p in cold["points"]:
        print(
            f"  fraction {p.fraction:4.2f}  n_train {p.n:5d}  "
            f"macro-F1 {p.mean_macro_f1:.3f} +- {p.std_macro_f1:.3f}"
        )
    print("reading:", read_learning_curve(cold["points"]))
    print(
        f"label issues: {len(flagged)} flagged; {hit} of {len(noisy_idx)} injected flips "
        f"found (recall {hit / max(1, len(noisy_idx)):.2f}, "
        f"precision {hit / max(1, len(flagged)):.2f})"
    )
    print(
        "top confusions:",
        [(p["given_name"], p["predicted_name"], p["count"]) for p in cold["pairs"][:4]],
    )
    assert np.allclose(warm["cv"].oof_pred_probs, cv.oof_pred_probs), "cached run diverged"


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    main()
