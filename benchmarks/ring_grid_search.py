"""A first search for a configuration that learns PacGAN's ring and grid in far fewer iterations.

PacGAN's setting (the `ring` and `grid` presets) needs 400,000 iterations, hours a run here. These
candidates trade its networks for smaller ReLU ones with He initialisation, a batch of 256, Adam
with a cosine decay to 0, R1 and an EMA of G's weights, and are measured by PacGAN's measures
(`modes_captured`, `high_quality`, `reverse_kl` on 2,500 samples) like the presets.

    python benchmarks/ring_grid_search.py ring cos30k-ema --seeds 2
    python benchmarks/ring_grid_search.py grid cos15k,cos30k-ema --seeds 2

Results: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time

import tinygan

BASE = {
    "noise": "gaussian", "noise_dim": 2, "noise_range": 3**0.5, "pretrain_steps": 0, "optimizer": "adam", "adam_beta1": 0.5,
    "learning_rate": 1e-3, "r1": 0.1, "generator_layers": 3, "generator_width": 128, "generator_activation": "relu",
    "discriminator_layers": 2, "discriminator_width": 128, "discriminator_activation": "relu", "init": "he", "batch_size": 256,
}
CANDIDATES = {  # overrides of the `seed` preset, with data.target set by the command line
    "constant3k": dict(BASE, schedule="constant", num_steps=3_000, log_every=500),
    "cos6k": dict(BASE, schedule="cosine", num_steps=6_000, log_every=500),
    "cos15k": dict(BASE, schedule="cosine", num_steps=15_000, log_every=1_000),
    "cos30k-ema": dict(BASE, schedule="cosine", num_steps=30_000, log_every=2_000, generator_ema=0.999),
    "wide30k-ema": dict(BASE, schedule="cosine", num_steps=30_000, log_every=2_000, generator_ema=0.999,
                        generator_layers=4, generator_width=256),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("ring", "grid"))
    parser.add_argument("candidates", help="names from CANDIDATES, separated by commas")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 of each candidate")
    args = parser.parse_args()
    for name in args.candidates.split(","):
        for seed in range(args.seeds):
            config = tinygan.config_from_preset("seed", target=args.target, seed=seed, **CANDIDATES[name])
            start = time.perf_counter()
            m = tinygan.train(config, frames=False).metrics
            print(f"{args.target} {name} seed {seed}: modes {m['modes_captured']}, high quality {m['high_quality']:.1f}%,"
                  f" reverse KL {m['reverse_kl']:.3f}; {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
