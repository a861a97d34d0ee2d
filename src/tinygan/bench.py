"""`tinygan bench`: the compiled loop against a step-by-step loop, and where `tinygan train`'s time goes.

Absolute times drift on a shared machine; the ratios are measured within one
run and are what to compare. The step-by-step loop calls the same jitted
train step once per iteration from Python, as a framework-driven loop (the
seed's TensorFlow session.run loop) does.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import time

import jax

from tinygan import engine
from tinygan.config import config_from_preset
from tinygan.runs import save_run
from tinygan.trainer import train

REPEATS = 3


def _best_time(function, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function())
        best = min(best, time.perf_counter() - start)
    return best


def loop_speeds(preset: str, steps: int) -> dict:
    """Iterations per second: the compiled scan, and a Python loop over the same jitted step."""
    config = config_from_preset(preset)
    game = engine.make_game(config)
    key_setup, key_train = jax.random.split(jax.random.key(0))
    state, _ = jax.jit(functools.partial(engine.setup, game, pretrain_steps=1))(key_setup)

    # One log interval covering every step: the loop alone, one probe at its start.
    compiled = jax.jit(
        functools.partial(engine.run_chunk, game, intervals=1, log_every=steps, view=None)
    )
    jax.block_until_ready(compiled(state, key_train))
    compiled_its = steps / _best_time(lambda: compiled(state, key_train))

    step = jax.jit(lambda state, i: engine.train_step(game, state, engine.step_key(key_train, i)))
    jax.block_until_ready(step(state, 0))
    stepwise_steps = max(100, min(steps // 10, 2000))

    def stepwise():
        s = state
        for i in range(stepwise_steps):
            s, _ = step(s, i)
        return s

    stepwise_its = stepwise_steps / _best_time(stepwise)
    return {"compiled_its": compiled_its, "stepwise_its": stepwise_its, "ratio": compiled_its / stepwise_its}


def import_seconds() -> float:
    """Time to import what `tinygan train` needs, in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import tinygan.cli, tinygan.runs; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def train_phases() -> dict:
    """Seconds of each phase of the seed preset's `tinygan train`, pictures included."""
    result = train(config_from_preset("seed"))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        save_run(result, folder)
        pictures = time.perf_counter() - start
    seconds = result.metrics["seconds"]
    phases = {"import": import_seconds()}
    phases.update({name: seconds[name] for name in ("compile", "pretrain", "train", "metrics")})
    phases["pictures"] = pictures
    phases["total"] = sum(phases.values())
    return phases


def end_to_end_seconds() -> float:
    """Wall time of the real command, `tinygan train`, in an empty folder."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinygan", "train"], cwd=folder, capture_output=True, check=True)
        return time.perf_counter() - start


def main(steps: int, as_json: bool) -> None:
    report = loop_speeds("seed", steps)
    report["minibatch"] = loop_speeds("seed-minibatch", steps)
    report["train_seconds"] = train_phases()
    report["end_to_end_seconds"] = end_to_end_seconds()
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'preset':<16}{'compiled it/s':>15}{'step-by-step it/s':>20}{'ratio':>9}")
    for name, speeds in (("seed", report), ("seed-minibatch", report["minibatch"])):
        print(f"{name:<16}{speeds['compiled_its']:>15,.0f}{speeds['stepwise_its']:>20,.0f}{speeds['ratio']:>8.1f}x")
    phases = report["train_seconds"]
    print("\ntinygan train (seed preset), seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(f"tinygan train end to end, as a command: {report['end_to_end_seconds']:.2f} s")
