"""Search for the `recommended` preset: the config that learns the seed's N(4, 0.5) most reliably.

Success for one seed: the final Wasserstein-1 distance (100,000 fresh generator
samples against N(4, 0.5), exactly tinygan's metrics["w1"]) below 0.03. The
requirement is success in at least 99% of 200 held-out seeds.

Many seeds of one config are trained at once with `jax.vmap`. Each seed's run
is exactly `tinygan.train(config)`'s, without the probes (which read the state
and change nothing):

    key_setup, key_train, key_eval = jax.random.split(jax.random.key(seed), 3)
    state, _ = engine.setup(game, key_setup, pretrain_steps)
    for each iteration:  state, _ = engine.update(game, state, engine.draw_batch(game, engine.step_key(key_train, state.step)))
    samples = game.generator.apply(engine.evaluated_generator(state), game.noise.sample(key_eval, 100_000))
    w1 = tinygan.metrics.distances(samples, game.target.distribution())["w1"]   (on the host)

Usage (run on one core: `taskset -c 1 nice -n 5`):

    python benchmarks/recommended_search.py --check                       # vmap W1 == tinygan.train's, 3 seeds
    python benchmarks/recommended_search.py --screen --seeds 0-49         # every candidate in CANDIDATES
    python benchmarks/recommended_search.py --screen --only adam-ema-cos --seeds 0-49
    python benchmarks/recommended_search.py --overrides '{"optimizer": "adam", "num_steps": 2000}' --seeds 0-49
    python benchmarks/recommended_search.py --confirm                     # RECOMMENDED on seeds 1000-1199 and 0-199
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import tinygan
from tinygan import engine
from tinygan.engine.resolve import config_from_preset, resolved
from tinygan.measure.metrics import distances

FINAL_SAMPLES = 100_000
GOAL, LOOSE = 0.03, 0.1

# The chosen configuration (overrides of the `seed` preset): see benchmarks/results/recommended_search.md.
RECOMMENDED: dict = {  # the candidate "g1-identity-d16" below, written out: the `recommended` preset
    "optimizer": "adam", "adam_beta1": 0.5, "learning_rate": 0.02, "schedule": "cosine",
    "noise": "gaussian", "noise_range": 0.3, "pretrain_steps": 0, "batch_size": 64, "num_steps": 3000,
    "r1": 1.0, "generator_ema": 0.99, "init_std": 0.5,
    "generator_width": 1, "generator_activation": "identity", "discriminator_activation": "elu", "discriminator_width": 16,
}

# Candidates tried, in the order of the search: name -> overrides of the `seed` preset.
BASE = {  # round 1's common ground: Adam, Gaussian noise of std 1 (G can be affine in it), no pre-training
    "optimizer": "adam", "adam_beta1": 0.5, "learning_rate": 0.001, "noise": "gaussian", "noise_range": 3**0.5,
    "pretrain_steps": 0, "batch_size": 64, "num_steps": 3000,
}
BASE2 = dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.02, init_std=0.5)  # round 2's best
BASE3 = dict(BASE2, generator_width=1)  # round 3's best, g1-softplus
BASE4 = dict(BASE3, noise_range=0.3, discriminator_activation="elu")  # round 5's two winners
CANDIDATES: dict[str, dict] = {
    # round 1: objectives and stabilizers, 3000 iterations, 50 seeds
    "r1-plain": dict(BASE, r1=1.0),
    "r1-ema-cos": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine"),
    "ema-cos": dict(BASE, generator_ema=0.99, schedule="cosine"),
    "r1-ema-cos-lr3e-3": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.003),
    "r1-ema-cos-init0.5": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", init_std=0.5),
    "lsgan-ema-cos": dict(BASE, objective="least_squares", generator_ema=0.99, schedule="cosine"),
    "wgan-gp-ema-cos": dict(BASE, objective="wasserstein", gradient_penalty=10.0, n_critic=5, adam_beta2=0.9,
                            generator_ema=0.99, schedule="cosine"),
    # round 2: G's mean must travel ~4: larger learning rates; smaller init (round 1's far-off seeds)
    "r1-ema-cos-lr1e-2": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.01),
    "r1-ema-cos-lr5e-3-init0.5": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.005,
                                      init_std=0.5),
    "r1-ema-cos-lr1e-2-init0.5": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.01,
                                      init_std=0.5),
    "r1-ema-cos-lr2e-2-init0.5": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", learning_rate=0.02,
                                      init_std=0.5),
    "r1x10-ema-cos-lr1e-2-init0.5": dict(BASE, r1=10.0, generator_ema=0.99, schedule="cosine", learning_rate=0.01,
                                         init_std=0.5),
    # round 3: the failures are folded generators (softplus units of both signs: G not monotone in z) with D
    # near chance (loss_d ~ 2 ln 2). A one-unit G is monotone, and affine where its unit is in its linear part.
    "g1-softplus": dict(BASE2, generator_width=1),
    "g1-elu": dict(BASE2, generator_width=1, generator_activation="elu"),
    "g1-softplus-r1x0.1": dict(BASE2, generator_width=1, r1=0.1),
    "g1-softplus-d16": dict(BASE2, generator_width=1, discriminator_width=16),
    "g2-softplus": dict(BASE2, generator_width=2),
    "g4-d16-r1x0.1": dict(BASE2, discriminator_width=16, r1=0.1),
    # round 4: g1-softplus fails only by noise in the mean and std: settle it (longer EMA, bigger batch, more
    # iterations) or move faster
    "g1-ema0.999": dict(BASE3, generator_ema=0.999),
    "g1-b256": dict(BASE3, batch_size=256),
    "g1-5000": dict(BASE3, num_steps=5000),
    "g1-lr5e-2": dict(BASE3, learning_rate=0.05),
    "g1-dlr5e-2": dict(BASE3, discriminator_learning_rate=0.05),
    "g1-ema0.999-b256-5000": dict(BASE3, generator_ema=0.999, batch_size=256, num_steps=5000),
    # round 5: what is left is a slow, barely damped swing of G's std (period ~1500 iterations, D at chance)
    # and the skew of a softplus unit used outside its linear part
    "g1-noise0.3": dict(BASE3, noise_range=0.3),
    "g1-leaky": dict(BASE3, generator_activation="leaky_relu"),
    "g1-beta1-0": dict(BASE3, adam_beta1=0.0),
    "g1-r1x3": dict(BASE3, r1=3.0),
    "g1-d-elu": dict(BASE3, discriminator_activation="elu"),
    # round 6: both round-5 winners together; then the noise scale, the length and the batch
    "g1-elu-n0.3": dict(BASE4),
    "g1-elu-n0.1": dict(BASE4, noise_range=0.1),
    "g1-elu-n0.3-5000": dict(BASE4, num_steps=5000),
    "g1-elu-n0.3-2000": dict(BASE4, num_steps=2000),
    "g1-elu-n0.3-b32": dict(BASE4, batch_size=32),
    # round 7: the seeds still failing have the right mean and std but a skewed shape: G's softplus unit works
    # around preactivation ~1 where its slope still bends. Units that are odd about 0 (tanh, sigmoid), exactly
    # linear above 0 (elu), two units that can cancel their bends, or a D wide enough to see a skew
    "g1-tanh": dict(BASE4, generator_activation="tanh"),
    "g1-sigmoid": dict(BASE4, generator_activation="sigmoid"),
    "g1-g-elu": dict(BASE4, generator_activation="elu"),
    "g2-softplus-n0.3": dict(BASE4, generator_width=2),
    "g1-d16": dict(BASE4, discriminator_width=16),
    # round 8: a sharper D sees the skew (g1-d16): cheaper ways to sharpen it, and d16 shorter
    "g1-r1x0.3": dict(BASE4, r1=0.3),
    "g1-dlr4e-2": dict(BASE4, discriminator_learning_rate=0.04),
    "g1-d12": dict(BASE4, discriminator_width=12),
    "g1-d16-2000": dict(BASE4, discriminator_width=16, num_steps=2000),
    # round 9: the skew is the softplus unit's bend: an exactly affine G (the identity activation) has none;
    # and data.standardize, once it landed, with noise of std 1
    "g1-identity-d16": dict(BASE4, discriminator_width=16, generator_activation="identity"),
    "g1-identity-d16-standardize": dict(BASE4, discriminator_width=16, generator_activation="identity",
                                        standardize=True, noise_range=3**0.5),
    "r1-ema-cos-stratified": dict(BASE, r1=1.0, generator_ema=0.99, schedule="cosine", noise="stratified",
                                  noise_range=1.0),
}


def parse_seeds(text: str) -> list[int]:
    """"0-49" or "1,2,5" or "0-9,100-109"."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    return seeds


def make_runner(config):
    """A jitted function: (seeds,) uint32 -> (seeds, FINAL_SAMPLES, 1) final samples, one run per seed."""
    game = engine.make_game(config)
    pretrain_steps, num_steps = config.optim.pretrain_steps, config.train.num_steps

    def one_run(seed):
        key_setup, key_train, key_eval = jax.random.split(jax.random.key(seed), 3)
        state, _ = engine.setup(game, key_setup, pretrain_steps)

        def iteration(state, _):
            batch = engine.draw_batch(game, engine.step_key(key_train, state.step))
            state, _ = engine.update(game, state, batch)
            return state, None

        state, _ = jax.lax.scan(iteration, state, None, length=num_steps)
        return game.generator.apply(engine.evaluated_generator(state), game.noise.sample(key_eval, FINAL_SAMPLES))

    return game, jax.jit(jax.vmap(one_run))


def evaluate(overrides: dict, seeds: list[int], chunk: int = 50) -> dict:
    """Train every seed of `config_from_preset("seed", **overrides)`; W1 per seed and the summary."""
    config = config_from_preset("seed", **overrides)
    game, runner = make_runner(config)
    law = game.target.distribution()
    started = time.perf_counter()
    found = []
    for i in range(0, len(seeds), chunk):
        part = seeds[i : i + chunk]
        samples = np.asarray(runner(jnp.asarray(part, jnp.uint32)))
        found += [distances(s, law) for s in samples]
    seconds = time.perf_counter() - started
    w1, mean, std = (np.array([d[name] for d in found]) for name in ("w1", "mean", "std"))
    return summarize(overrides, seeds, w1, mean, std, seconds, config.train.num_steps)


def summarize(overrides, seeds, w1, mean, std, seconds, num_steps) -> dict:
    bad = np.where(np.isnan(w1), np.inf, w1)
    order = np.argsort(bad)[::-1]
    return {
        "overrides": overrides,
        "num_steps": num_steps,
        "seeds": f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else seeds,
        "n": len(seeds),
        "ok_003": float(np.mean(bad < GOAL)),
        "ok_01": float(np.mean(bad < LOOSE)),
        "median": float(np.median(bad)),
        "p90": float(np.percentile(bad, 90)),
        "p99": float(np.percentile(bad, 99)),
        "worst": [(int(seeds[j]), float(w1[j]), float(mean[j]), float(std[j])) for j in order[:5]],
        "seconds": round(seconds, 1),
    }


def show(name: str, result: dict) -> None:
    print(
        f"{name:28s} n={result['n']:3d} steps={result['num_steps']:5d}  "
        f"W1<0.03 {100 * result['ok_003']:5.1f}%  W1<0.1 {100 * result['ok_01']:5.1f}%  "
        f"median {result['median']:.4f}  p90 {result['p90']:.4f}  p99 {result['p99']:.4f}  "
        f"{result['seconds']:6.1f}s  worst (seed, w1, mean, std) "
        f"{[tuple(round(v, 3) for v in row) for row in result['worst'][:3]]}",
        flush=True,
    )


def check(overrides: dict, seeds=(0, 1, 2)) -> None:
    """The vmapped W1 against `tinygan.train(config).metrics["w1"]`, seed by seed."""
    config = config_from_preset("seed", **overrides)
    game, runner = make_runner(config)
    law = game.target.distribution()
    samples = np.asarray(runner(jnp.asarray(list(seeds), jnp.uint32)))
    for seed, s in zip(seeds, samples, strict=True):
        mine = distances(s, law)["w1"]
        theirs = tinygan.train(tinygan.config.replace(config, seed=seed), frames=False).metrics["w1"]
        print(f"seed {seed}: vmap {mine!r}  train {theirs!r}  diff {abs(mine - theirs):.3g}"
              f"  {'bit-identical' if mine == theirs else 'differs'}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-49", help="seeds, e.g. 0-49 or 0-9,100-109")
    parser.add_argument("--overrides", help="a JSON dict of overrides of the seed preset")
    parser.add_argument("--screen", action="store_true", help="evaluate the CANDIDATES")
    parser.add_argument("--only", default="", help="comma-separated candidate names (with --screen)")
    parser.add_argument("--confirm", action="store_true", help="RECOMMENDED on seeds 1000-1199 (held out) and 0-199")
    parser.add_argument("--check", action="store_true", help="vmapped W1 vs tinygan.train on seeds 0-2")
    parser.add_argument("--json", help="append each result as a JSON line to this file")
    args = parser.parse_args(argv)

    def record(name, result):
        show(name, result)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps({"name": name, **result}) + "\n")

    if args.check:
        check(json.loads(args.overrides) if args.overrides else RECOMMENDED)
    elif args.confirm:
        for seeds in ("1000-1199", "0-199"):
            record(f"recommended {seeds}", evaluate(RECOMMENDED, parse_seeds(seeds)))
    elif args.overrides:
        record("overrides", evaluate(json.loads(args.overrides), parse_seeds(args.seeds)))
    elif args.screen:
        names = args.only.split(",") if args.only else list(CANDIDATES)
        for name in names:
            record(name, evaluate(CANDIDATES[name], parse_seeds(args.seeds)))
    else:
        parser.print_help()
    return 0


assert RECOMMENDED == CANDIDATES["g1-identity-d16"]
assert resolved(config_from_preset("seed", **RECOMMENDED)).to_dict() == dict(
    resolved(config_from_preset("recommended")).to_dict(), preset="seed")  # the preset is this search's choice

if __name__ == "__main__":
    sys.exit(main())
