"""What checkpoints cost: one checkpoint's size, write and load time, against the training between two.

For each preset, a short run (frames on, as `tinygan train` keeps them; the ring preset's networks are 400
units wide, so a few hundred iterations) is trained with a checkpoint at every compiled chunk and without
any: the ratio of their loop times (compiling left out) is the worst case. A single checkpoint's write (encode, fsync, rename) and load (every checksum checked) are timed,
best of 3, and set against the time the default cadence (--checkpoint-every 10000) trains between two.
Ratios are measured in the same run: compare them, not the seconds, across machines.

    python benchmarks/checkpoint_cost.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import tinygan
from tinygan.runs import checkpoints
from tinygan.runs.launch import RunOptions
from tinygan.training import loop as trainer

CASES = {"seed": {"num_steps": 2_000}, "ring": {"num_steps": 300, "log_every": 50}}
REPEATS = 3


def best(function) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def loop_seconds(run) -> float:
    """Seconds a run spent in its loop (training, measuring, checkpoints), compiling left out: best of 3."""
    return min(sum(run().metrics["seconds"][phase] for phase in ("train", "metrics")) for _ in range(REPEATS))


def measure(preset: str, settings: dict) -> dict:
    config = tinygan.config_from_preset(preset, **settings)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        plain = loop_seconds(lambda: tinygan.train(config))
        every = loop_seconds(lambda: tinygan.train(config, checkpoint=checkpoints.Checkpointer(folder / "every", 3),
                                                   checkpoint_every=1))
        snapshots = []
        tinygan.train(config, checkpoint=snapshots.append, checkpoint_every=config.train.num_steps // 2)
        target = folder / "one"
        write = best(lambda: checkpoints.Checkpointer(target, keep=1)(snapshots[0]))  # its frames included
        path = checkpoints.latest(target)
        load = best(lambda: checkpoints.load(path))
        size = path.stat().st_size + sum(p.stat().st_size for p in (target / "frames").glob("*.npz"))
    its = config.train.num_steps / plain  # iterations per second of the loop, measuring included
    between = RunOptions().checkpoint_every / its  # seconds of training between two default checkpoints
    return {"preset": preset, "write_s": write, "load_s": load, "bytes": size, "its": its,
            "every_chunk_ratio": every / plain, "default_share": write / between}


def main() -> None:
    print(f"chunk: {trainer.CHUNK_ITERATIONS} iterations; default cadence: every {RunOptions().checkpoint_every:,}")
    print(f"{'preset':<8}{'write ms':>10}{'load ms':>10}{'size KB':>10}{'loop it/s':>12}"
          f"{'ckpt every chunk':>18}{'default cadence':>17}")
    for preset, settings in CASES.items():
        row = measure(preset, settings)
        print(f"{row['preset']:<8}{row['write_s'] * 1e3:>10.1f}{row['load_s'] * 1e3:>10.1f}{row['bytes'] / 1e3:>10.0f}"
              f"{row['its']:>12,.0f}{row['every_chunk_ratio']:>17.2f}x{row['default_share']:>16.2%}")


if __name__ == "__main__":
    main()
