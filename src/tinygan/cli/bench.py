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
from tinygan.engine.resolve import config_from_preset
from tinygan.runs.folder import save_run
from tinygan.training import seeds as ensemble
from tinygan.training.loop import train

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


# ---------------------------------------------------------------- sweeps: many seeds as one program

SWEEP_SIZES = (1, 16, 64, 256, 1024)
SWEEP_SEED_ITERATIONS = 200_000  # seed-iterations per timed call, about: steps = this / seeds (at least 50)


def _memory_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: the resident peak)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def peak_flops(size: int = 2048) -> float:
    """This machine's float32 peak, as measured: a jitted size x size matrix product, best of REPEATS."""
    a = jax.random.normal(jax.random.key(0), (size, size))
    product = jax.jit(lambda a: a @ a)
    jax.block_until_ready(product(a))
    return 2 * size**3 / _best_time(lambda: product(a))


def sweep_speed(seeds: int, steps: int, preset: str = "seed") -> dict:
    """One sweep's training speed: `seeds` seeds of `preset` trained `steps` iterations as `tinygan sweep` does.

    The program is the one `training.seeds.train_seeds` runs (its device shares);
    memory is the growth of the resident peak from before the seeds' set-up
    (compiling included). flops come from XLA's cost analysis of the program.
    """
    config = config_from_preset(preset, num_steps=steps)
    game = engine.make_game(config)
    resident = _memory_kib("VmRSS")
    # As `training.seeds.train_seeds` trains them: a lone seed is padded to MIN_DEVICE_SEEDS (the copy is not counted).
    key_setup, key_train, _ = ensemble.seed_keys(range(max(seeds, ensemble.MIN_DEVICE_SEEDS)))
    shares = ensemble.device_shares(ensemble.setup_seeds(game, key_setup, config.optim.pretrain_steps), key_train)
    ensemble.train_shares(game, shares, steps)
    seconds = _best_time(lambda: ensemble.train_shares(game, shares, steps))
    states, keys = shares[0]
    # The program just run (jit's cache: no new compile). XLA's cost analysis counts a loop's body once: the
    # flops of one iteration of the share, as compiled (fusions' recomputation included).
    one = ensemble.train_chunk.lower(game, states, keys, steps).compile().cost_analysis()
    return {
        "seeds": seeds,
        "steps": steps,
        "devices": len(shares),
        "seed_its": seeds * steps / seconds,
        "peak_memory_mb": (_memory_kib("VmHWM") - resident) / 1024,
        "flops_per_seed_iteration": float(one["flops"]) / keys.shape[0],
    }


def _sweep_speed_in_child(seeds: int, steps: int, preset: str) -> dict:
    """`sweep_speed` in a fresh interpreter, so each size's memory peak is its own."""
    code = f"import json; from tinygan import bench; print(json.dumps(bench.sweep_speed({seeds}, {steps}, {preset!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep_report(
    sizes=SWEEP_SIZES, seed_iterations: int = SWEEP_SEED_ITERATIONS, single_steps: int = 3000,
    fresh_process: bool = True, preset: str = "seed", matmul_size: int = 2048,
) -> dict:
    """Seed-iterations per second for each number of seeds, against one compiled run and the step-by-step loop.

    Every ratio is measured within this call: the machine's peak flops (`peak_flops`),
    one compiled run and its step-by-step loop (`loop_speeds`), and each size
    (`sweep_speed`, in a fresh interpreter when `fresh_process`).
    """
    single = loop_speeds(preset, single_steps)
    peak = peak_flops(matmul_size)
    rows = []
    for seeds in sizes:
        steps = max(50, seed_iterations // seeds)
        row = (_sweep_speed_in_child if fresh_process else sweep_speed)(seeds, steps, preset)
        row["flop_fraction"] = row["flops_per_seed_iteration"] * row["seed_its"] / peak
        row["vs_single_run"] = row["seed_its"] / single["compiled_its"]
        row["vs_stepwise"] = row["seed_its"] / single["stepwise_its"]
        rows.append(row)
    return {"preset": preset, "peak_flops": peak, "single_run_its": single["compiled_its"],
            "stepwise_its": single["stepwise_its"], "sizes": rows}


def print_sweep_report(report: dict) -> None:
    print(f"{report['preset']} preset; single compiled run {report['single_run_its']:,.0f} it/s, step-by-step "
          f"{report['stepwise_its']:,.0f} it/s; float32 peak {report['peak_flops'] / 1e9:,.1f} GFLOP/s (2048^2 matmul)")
    print(f"{'seeds':>6}{'devices':>8}{'seed-it/s':>12}{'memory MB':>11}{'flop/it':>9}{'of peak':>9}"
          f"{'x single':>10}{'x step':>8}")
    for row in report["sizes"]:
        print(f"{row['seeds']:>6}{row['devices']:>8}{row['seed_its']:>12,.0f}{row['peak_memory_mb']:>11,.1f}"
              f"{row['flops_per_seed_iteration']:>9,.0f}{row['flop_fraction']:>9.2%}{row['vs_single_run']:>10.2f}"
              f"{row['vs_stepwise']:>8.1f}")


def sweep_main(as_json: bool) -> None:
    """`tinygan bench --sweep`: `sweep_report` at SWEEP_SIZES, as a table or one JSON object."""
    report = sweep_report()
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_sweep_report(report)
