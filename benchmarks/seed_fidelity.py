"""Does the `seed` preset succeed and fail like the original TensorFlow program?

Trains seeds 0..N-1 of `config_from_preset("seed")` (plain) and of
`config_from_preset("seed", minibatch=True)` at the seed's defaults (1200
iterations, batch 12), and compares the spread of outcomes with the
original's, as DESIGN.md section 1 reports them (25 seeds per variant).

Each run is put in one class, the first that applies, from its final state
(100,000 generator samples drawn with key 0, and the final discriminator):

    nan        anything non-finite: losses, samples or parameters
    success    W1 < 0.1 to N(4, 0.5)
    collapsed  D separates perfectly: >= 95% of real samples get D > 0.9 and
               >= 95% of generated samples get D < 0.1 (G has no gradient)
    folded     > 20% of the generated mass outside [0, 8] (8 target stds away):
               half the noise range on the target, an arm running off
    narrow     std < 0.3 with |mean - 4| < 1
    near       W1 < 0.5
    other      none of the above

Generated samples are fed to D in batches laid out as training lays them out
(each batch of 12 spread over the whole noise range), which matters with
minibatch discrimination. The start of the game (after D's pre-training) is
read two ways: the first history loss, where loss_d[0] > 24 ln 2 = 16.6 means
a saturated logit (of either sign), and D on the first frame's x grid, where
D == 1.0 everywhere (float32) is the original's "pinned at 1": its first
log(1 - D) is -inf and the run turns NaN (a lower bound: one saturated
sample in the first batch is enough for that).

Every run compiles the same programs, so a persistent compilation cache (a
temporary folder per process) compiles them once per variant; a run then
takes 1.5-3 s instead of about 5.

    python benchmarks/seed_fidelity.py --seeds 50          # both variants, 2 processes
    python benchmarks/seed_fidelity.py --seeds 50 --json   # the same as one JSON object
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

SATURATED_LOSS = 24 * math.log(2)  # float32: sigmoid(l) rounds to 1.0 for l above this
CLASSES = ("success", "near", "collapsed", "folded", "narrow", "nan", "other")
ORIGINAL = {  # DESIGN.md section 1: the original program, 25 seeds per variant
    "plain": {"w1<0.1": "0/25", "w1<0.5": "7/25", "median w1": "~10", "nan": "not stated"},
    "minibatch": {"w1<0.1": "0/25", "w1<0.5": "4/25", "median w1": "~10", "nan": "8/25", "first loss inf": "~1/3"},
}


def classify(w1, mean, std, far_share, separates, finite) -> str:
    if not finite:
        return "nan"
    if w1 < 0.1:
        return "success"
    if separates:
        return "collapsed"
    if far_share > 0.2:
        return "folded"
    if std < 0.3 and abs(mean - 4.0) < 1.0:
        return "narrow"
    return "near" if w1 < 0.5 else "other"


def run_seed(minibatch: bool, seed: int) -> dict:
    import jax

    import tinygan

    start = time.perf_counter()
    result = tinygan.train(tinygan.config_from_preset("seed", minibatch=minibatch, seed=seed))
    batch = result.config.train.batch_size
    samples = result.sample(100_000, key=jax.random.key(0))[:, 0]  # in noise order
    per_batch = samples.size // batch
    # Column j of (batch, per_batch) holds one sample from each of `batch` strata of the noise range.
    fake = samples[: batch * per_batch].reshape(batch, per_batch).T.reshape(-1, 1)
    real = np.asarray(jax.random.normal(jax.random.key(1), (fake.shape[0], 1))) * 0.5 + 4.0
    d_real, d_fake = result.discriminate(real), result.discriminate(fake)
    m = result.metrics
    finite = bool(
        np.isfinite(samples).all()
        and np.isfinite(result.history["loss_d"]).all()
        and np.isfinite(result.history["loss_g"]).all()
        and all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(result.state))
    )
    with np.errstate(invalid="ignore"):
        far_share = float(np.mean((samples < 0) | (samples > 8)))
    separates = bool(np.mean(d_real > 0.9) >= 0.95 and np.mean(d_fake < 0.1) >= 0.95)
    start_decision = result.frames[0].decision  # D on the x grid before the first iteration
    return {
        "seed": seed,
        **{name: m[name] for name in ("w1", "ks", "mean", "std")},
        "finite": finite,
        "far_share": far_share,
        "p01": float(np.percentile(samples, 1)),  # where an arm ends
        "separates": separates,
        "d_real": float(np.mean(d_real)),
        "d_fake": float(np.mean(d_fake)),
        "first_loss_d": float(result.history["loss_d"][0]),
        "start_pinned_at_1": bool(np.all(start_decision == 1.0)),
        "class": classify(m["w1"], m["mean"], m["std"], far_share, separates, finite),
        "seconds": time.perf_counter() - start,
    }


def run_variant(minibatch: bool, seeds: int) -> dict:
    import jax

    with tempfile.TemporaryDirectory(prefix="seed_fidelity_") as cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        start = time.perf_counter()
        runs = [run_seed(minibatch, seed) for seed in range(seeds)]
        return summarize(runs, time.perf_counter() - start)


def summarize(runs: list[dict], seconds: float) -> dict:
    w1 = np.array([r["w1"] for r in runs])
    finite_w1 = w1[np.isfinite(w1)]
    first = np.array([r["first_loss_d"] for r in runs])
    quartiles = np.percentile(finite_w1, [25, 50, 75]) if finite_w1.size else [math.nan] * 3
    return {
        "seeds": len(runs),
        "classes": {name: sum(r["class"] == name for r in runs) for name in CLASSES},
        "w1<0.1": int(np.sum(w1 < 0.1)),
        "w1<0.5": int(np.sum(w1 < 0.5)),
        "w1 quartiles": [float(q) for q in quartiles],
        "nan": sum(not r["finite"] for r in runs),
        "far > 20%": sum(r["far_share"] > 0.2 for r in runs),
        "D separates": sum(r["separates"] for r in runs),
        "first loss_d median": float(np.median(first)),
        "first loss_d max": float(np.max(first)),
        "first loss_d saturated": int(np.sum(first > SATURATED_LOSS)),
        "start pinned at 1": sum(r["start_pinned_at_1"] for r in runs),
        "w1<0.5 not pinned": sum(r["w1"] < 0.5 and not r["start_pinned_at_1"] for r in runs),
        "seconds": seconds,
        "runs": runs,
    }


def print_table(name: str, summary: dict) -> None:
    n = summary["seeds"]
    q1, median, q3 = summary["w1 quartiles"]
    print(f"\n== {name}: {n} seeds, {summary['seconds']:.0f} s ==")
    print("classes:   " + "  ".join(f"{c} {k}" for c, k in summary["classes"].items()))
    print(f"W1 < 0.1:  {summary['w1<0.1']}/{n}    W1 < 0.5: {summary['w1<0.5']}/{n}    NaN: {summary['nan']}/{n}")
    print(f"W1:        median {median:.3g}   quartiles {q1:.3g} .. {q3:.3g}")
    print(
        f"first loss_d: median {summary['first loss_d median']:.3g}, max {summary['first loss_d max']:.3g}, "
        f"> {SATURATED_LOSS:.1f} (a saturated logit) in {summary['first loss_d saturated']}/{n}"
    )
    pinned = summary["start pinned at 1"]
    print(
        f"start:     D == 1 on the whole grid (inf, then NaN, in the original) in {pinned}/{n}; "
        f"W1 < 0.5 in {summary['w1<0.5 not pinned']}/{n - pinned} of the others"
    )
    print(f"flags:     far mass > 20% in {summary['far > 20%']}/{n}, D separates in {summary['D separates']}/{n}")
    print("original:  " + "   ".join(f"{k} {v}" for k, v in ORIGINAL[name].items()))
    header = ("seed", "class", "w1", "mean", "std", "far", "p01", "D(real)", "D(fake)", "loss_d0", "pinned")
    print(" ".join(f"{h:>9}" for h in header))
    for r in summary["runs"]:
        values = (r["w1"], r["mean"], r["std"], r["far_share"], r["p01"], r["d_real"], r["d_fake"], r["first_loss_d"])
        print(
            f"{r['seed']:>9} {r['class']:>9} " + " ".join(f"{v:>9.3g}" for v in values)
            + f" {'yes' if r['start_pinned_at_1'] else '':>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="train seeds 0..N-1 of each variant")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args()

    variants = {"plain": False, "minibatch": True}
    # One process per variant; "spawn" because JAX does not survive fork.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(run_variant, minibatch, args.seeds) for name, minibatch in variants.items()}
        summaries = {name: future.result() for name, future in futures.items()}

    if args.json:
        print(json.dumps({"original": ORIGINAL, **summaries}, indent=1))
    else:
        for name, summary in summaries.items():
            print_table(name, summary)


if __name__ == "__main__":
    main()
