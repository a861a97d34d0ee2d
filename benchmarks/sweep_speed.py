"""How fast does a sweep train many seeds of the `seed` preset, and what made it so?

    nice python benchmarks/sweep_speed.py            # the table of `tinygan bench --sweep`, then the ablations
    nice python benchmarks/sweep_speed.py --json     # one JSON object: {"sweep": ..., "ablations": ...}

The table: seed-iterations per second for 1, 16, 64, 256 and 1024 seeds (on a GPU,
up to 131,072), the resident-memory peak's growth (each size in a fresh interpreter),
the flops XLA counts per seed-iteration as a fraction of the device's float32 peak
(a square matrix product measured in the same run: 1024^2 on the CPU, 8192^2 on a
GPU), and the ratios to one compiled run and to the step-by-step loop
(`tinygan.cli.bench.sweep_report`).

The ablations, 1024 seeds, best of 3, all in this one process (ratios to the
first row are what to compare on a shared machine):

    vmap of scan      jax.vmap over seeds of a whole lax.scan run: every counter batched too
    scan of vmap      ensemble.train_chunk on one device: the counters shared (bit for bit single runs)
    device shares     ensemble.spread: an equal share of the seeds on each host device, one program for all
    ... chunk N       device shares, N iterations per compiled call instead of the whole run in one
"""

from __future__ import annotations

import argparse
import json

import jax

from tinygan import engine
from tinygan.cli import bench
from tinygan.engine.resolve import config_from_preset
from tinygan.training import seeds as ensemble

SEEDS, STEPS = 1024, 1000


def _best(function, repeats: int = 3) -> float:
    """The best of `repeats` timings, after one untimed call that compiles."""
    jax.block_until_ready(function())
    return bench._best_time(function, repeats)


def ablations(seeds: int = SEEDS, steps: int = STEPS) -> dict:
    """Seed-iterations per second of each way of writing the sweep's program (see the module's docstring)."""
    config = config_from_preset("seed", num_steps=steps)
    game = engine.make_game(config)
    key_setup, key_train, _ = ensemble.seed_keys(range(seeds))
    states = ensemble.setup_seeds(game, key_setup, config.optim.pretrain_steps)

    def run_one(state, run_key):  # one seed's whole run, every counter its own
        def step(state, _):
            return engine.train_step(game, state, engine.step_key(run_key, state.step))[0], None

        return jax.lax.scan(step, state, length=steps)[0]

    batched = jax.tree.map(lambda leaf: jax.numpy.broadcast_to(leaf, (seeds, *leaf.shape)) if leaf.ndim == 0 else leaf,
                           states)
    naive = jax.jit(jax.vmap(run_one))
    spread = ensemble.spread(states, key_train)
    programs = {
        "vmap of scan": lambda: naive(batched, key_train),
        "scan of vmap": lambda: ensemble.train_chunk(game, states, key_train, steps),
        "device shares": lambda: ensemble.train_chunk(game, *spread, steps),
    }
    for chunk in (100, 250):
        programs[f"device shares, chunk {chunk}"] = lambda chunk=chunk: [
            jax.block_until_ready(ensemble.train_chunk(game, *spread, chunk)) for _ in range(steps // chunk)][-1]
    return {name: seeds * steps / _best(program) for name, program in programs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report = {"sweep": bench.sweep_report(), "ablations": ablations()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    bench.print_sweep_report(report["sweep"])
    speeds = report["ablations"]
    first = next(iter(speeds.values()))
    print(f"\nablations, {SEEDS} seeds x {STEPS} iterations, {len(jax.local_devices(backend='cpu'))} CPU devices:")
    for name, speed in speeds.items():
        print(f"  {name:<28}{speed:>12,.0f} seed-it/s{speed / first:>7.2f}x")


if __name__ == "__main__":
    main()
