"""`tinygan bench`: the compiled loop against a step-by-step loop, and where `tinygan train`'s time goes.

Absolute times drift on a shared machine; the ratios are measured within one
run and are what to compare. The step-by-step loop calls the same jitted
train step once per iteration from Python, as a framework-driven loop (the
seed's TensorFlow session.run loop) does. Every program runs on the device
the `device` setting (auto, cpu, gpu) resolves to, and the report says which,
its measured float32 peak, and the share of that peak the training reached.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from tinygan import engine
from tinygan.engine import devices
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


# ---------------------------------------------------------------- the device and its peak

# Matrix sizes for the peak: large enough to keep the device's multipliers busy, small enough to take a
# fraction of a second (about 10 ms a product on 2 CPU cores, a few ms on an H200).
PEAK_MATMUL = {"cpu": 1024, "gpu": 8192}
PEAK_REPEATS = 5


def peak_matmul_size(device: jax.Device) -> int:
    return PEAK_MATMUL.get(device.platform, 4096)


def describe(device: jax.Device) -> str:
    """The device in words: `cpu (2 host devices)`, `NVIDIA H200` (`NVIDIA H200 x 2` for a sweep over two)."""
    count = len(devices.platform_devices(device))
    if device.platform == "cpu":
        return f"cpu ({count} host devices)"
    return device.device_kind + (f" x {count}" if count > 1 else "")


def peak_flops(device: jax.Device | None = None, size: int | None = None) -> float:
    """Float32 flops per second of `device`'s platform, as measured: a jitted size x size matrix product on each
    of its devices at once (as a sweep's shares run), best of PEAK_REPEATS.

    At JAX's default matmul precision, the one training's layers get (TF32 on recent NVIDIA GPUs).
    """
    device = device or devices.cpu()
    size = size or peak_matmul_size(device)
    shared = devices.platform_devices(device)
    # NumPy's draw: jax.random's would compile first, which takes longer than the measurement here.
    a = np.random.default_rng(0).standard_normal((size, size), np.float32)  # (size, size)
    operands = [jax.device_put(a, each) for each in shared]
    product = jax.jit(lambda a: a @ a)
    jax.block_until_ready([product(a) for a in operands])
    return len(shared) * 2 * size**3 / _best_time(lambda: [product(a) for a in operands], PEAK_REPEATS)


def device_report(device: jax.Device, peak: float, size: int | None = None) -> dict:
    """The report's keys for where it ran: the device in words, its platform, its peak in GFLOP/s and the matrix
    size that measured it."""
    return {"device": describe(device), "platform": device.platform, "peak_gflops": peak / 1e9,
            "matmul_size": size or peak_matmul_size(device)}


def run_device(preset: str, setting: str) -> jax.Device:
    """Where `tinygan train --device SETTING` runs `preset`: by the flops of one iteration (`devices.choose`).
    `gpu` where there is none is a ConfigError, before anything runs."""
    devices.check_device(setting)
    with devices.on_cpu():
        return devices.choose(setting, engine.iteration_flops(engine.make_game(config_from_preset(preset))))


def loop_speeds(preset: str, steps: int, device: jax.Device | None = None) -> dict:
    """Iterations per second on `device` (default: the CPU): the compiled scan, and a Python loop over the same
    jitted step; and the flops of one iteration (`engine.iteration_flops`: from the networks' weights)."""
    config = config_from_preset(preset)
    with devices.on_cpu():  # as `tinygan.train` makes it: a game's data lives on the CPU
        game = engine.make_game(config)
    with jax.default_device(device or devices.cpu()):
        speeds = _loop_speeds(game, steps)
    speeds["flops_per_iteration"] = float(engine.iteration_flops(game))
    return speeds


def _loop_speeds(game: engine.Game, steps: int) -> dict:
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


def _child_env() -> dict:
    """The environment of a child interpreter: JAX's GPU allocator takes memory as it needs it rather than most of
    the GPU at start, which this process may already hold."""
    return {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


def import_seconds() -> float:
    """Time to import what `tinygan train` needs, in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import tinygan.cli, tinygan.runs; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_child_env())
    return float(done.stdout)


def train_phases(device: str = "auto") -> dict:
    """Seconds of each phase of the seed preset's `tinygan train --device DEVICE`, pictures included."""
    result = train(config_from_preset("seed", device=device))
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


def end_to_end_seconds(device: str = "auto") -> float:
    """Wall time of the real command, `tinygan train --device DEVICE`, in an empty folder."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinygan", "train", "--device", device], cwd=folder,
                       capture_output=True, check=True, env=_child_env())
        return time.perf_counter() - start


def main(steps: int, as_json: bool, device: str = "auto") -> None:
    """`tinygan bench`: both loops of the seed and seed-minibatch presets on the device `device` (auto, cpu, gpu)
    resolves to for a seed-preset run, the device's peak and each compiled loop's share of it; then where
    `tinygan train`'s time goes."""
    chosen = run_device("seed", device)
    peak = peak_flops(chosen)
    report = loop_speeds("seed", steps, chosen)
    report["minibatch"] = loop_speeds("seed-minibatch", steps, chosen)
    for speeds in (report, report["minibatch"]):
        speeds["peak_share"] = speeds["flops_per_iteration"] * speeds["compiled_its"] / peak
    report.update(device_report(chosen, peak))
    report["train_seconds"] = train_phases(device)
    report["end_to_end_seconds"] = end_to_end_seconds(device)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print(f"device: {report['device']}; float32 peak {report['peak_gflops']:,.1f} GFLOP/s "
          f"({report['matmul_size']}^2 matmul)")
    print(f"{'preset':<16}{'compiled it/s':>15}{'step-by-step it/s':>20}{'ratio':>9}{'flop/it':>11}{'of peak':>9}")
    for name, speeds in (("seed", report), ("seed-minibatch", report["minibatch"])):
        print(f"{name:<16}{speeds['compiled_its']:>15,.0f}{speeds['stepwise_its']:>20,.0f}{speeds['ratio']:>8.1f}x"
              f"{speeds['flops_per_iteration']:>11,.0f}{speeds['peak_share']:>9.2%}")
    phases = report["train_seconds"]
    print("\ntinygan train (seed preset), seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(f"tinygan train end to end, as a command: {report['end_to_end_seconds']:.2f} s")


# ---------------------------------------------------------------- sweeps: many seeds as one program

SWEEP_SIZES = (1, 16, 64, 256, 1024)  # on the CPU: MAX_SEED_BATCH seeds at most, more are no faster there
GPU_SWEEP_SIZES = (1, 16, 256, 1024, 4096, 16384, 65536, 131072)
SWEEP_SEED_ITERATIONS = 200_000  # seed-iterations per timed call, about: steps = this / seeds (at least 50)


def sweep_sizes(device: jax.Device) -> tuple[int, ...]:
    """The numbers of seeds `tinygan bench --sweep` times on `device`: to 1024 on the CPU, to 131,072 on a GPU."""
    return SWEEP_SIZES if device.platform == "cpu" else GPU_SWEEP_SIZES


def fitting_sizes(config, sizes, device: jax.Device) -> tuple[list[int], list[dict]]:
    """The sizes whose seeds all fit on `device` at once (`default_seed_batch`: a GPU's free memory, the CPU's
    budget), and a note for each size left out."""
    fit, skipped = [], []
    for seeds in sizes:
        batch = ensemble.default_seed_batch(config, seeds, device)
        if batch >= seeds:
            fit.append(seeds)
        else:
            skipped.append({"seeds": seeds, "note": f"skipped: the device holds {batch:,} seeds at once"})
    return fit, skipped


def _memory_bytes(device: jax.Device, peak: bool) -> int:
    """Memory in use now (or its peak so far) where `device` trains: on the CPU this process's resident set (VmRSS,
    VmHWM); on GPUs the bytes their allocators hold, summed over the platform's devices."""
    if device.platform == "cpu":
        with open("/proc/self/status") as status:
            kib = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmHWM:", "VmRSS:"))}
        # Linux updates the high-water mark lazily: it may read a little under the resident set
        return 1024 * (max(kib["VmHWM"], kib["VmRSS"]) if peak else kib["VmRSS"])
    key = "peak_bytes_in_use" if peak else "bytes_in_use"
    return sum((each.memory_stats() or {}).get(key, 0) for each in devices.platform_devices(device))


def sweep_speed(seeds: int, steps: int, preset: str = "seed", device: str = "cpu") -> dict:
    """One sweep's training speed: `seeds` seeds of `preset` trained `steps` iterations as `tinygan sweep` does,
    on the device `device` (auto, cpu, gpu) resolves to for them.

    The program is the one `training.seeds.train_seeds` runs (its device shares);
    memory is the growth of the memory peak from before the seeds' set-up
    (compiling included). flops come from XLA's cost analysis of the program
    (`flops_per_seed_iteration`) and from the networks' weights
    (`model_flops_per_seed_iteration`, as `engine.iteration_flops` counts them).
    """
    config = config_from_preset(preset, num_steps=steps, device=device)
    chosen = ensemble.sweep_device(config, seeds)
    with devices.on_cpu():
        game = engine.make_game(config)
    resident = _memory_bytes(chosen, peak=False)
    # As `training.seeds.train_seeds` trains them: a lone seed is padded to MIN_DEVICE_SEEDS (the copy is not counted).
    with jax.default_device(chosen):
        key_setup, key_train, _ = ensemble.seed_keys(range(max(seeds, ensemble.MIN_DEVICE_SEEDS)))
        states = ensemble.setup_seeds(game, key_setup, config.optim.pretrain_steps)
        states, keys = ensemble.spread(states, key_train, shared=devices.platform_devices(chosen))
        train = lambda: jax.block_until_ready(ensemble.train_chunk(game, states, keys, steps))
        train()
        seconds = _best_time(train)
    # The program just run (jit's cache: no new compile). XLA's cost analysis counts a loop's body once, on one
    # device: the flops of one iteration of a device's share, as compiled (fusions' recomputation included).
    one = ensemble.train_chunk.lower(game, states, keys, steps).compile().cost_analysis()
    one = one[0] if isinstance(one, list) else one  # a list of one dict on some JAX versions
    shares = ensemble.share_count(keys)
    return {
        "seeds": seeds,
        "steps": steps,
        "devices": shares,
        "seed_its": seeds * steps / seconds,
        "peak_memory_mb": max(0, _memory_bytes(chosen, peak=True) - resident) / 2**20,  # the lazy mark, as above
        "flops_per_seed_iteration": float(one["flops"]) / (keys.shape[0] // shares),
        "model_flops_per_seed_iteration": float(engine.iteration_flops(game)),
    }


def _sweep_speed_in_child(seeds: int, steps: int, preset: str, device: str) -> dict:
    """`sweep_speed` in a fresh interpreter, so each size's memory peak is its own."""
    code = ("import json; from tinygan.cli import bench; "
            f"print(json.dumps(bench.sweep_speed({seeds}, {steps}, {preset!r}, {device!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_child_env())
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep_report(
    sizes=None, seed_iterations: int = SWEEP_SEED_ITERATIONS, single_steps: int = 3000,
    fresh_process: bool = True, preset: str = "seed", matmul_size: int | None = None, device: str = "auto",
) -> dict:
    """Seed-iterations per second for each number of seeds, against one compiled run and the step-by-step loop.

    Everything runs on the device `device` (auto, cpu, gpu) resolves to for the largest
    size; `sizes` defaults to that device's ladder (`sweep_sizes`), less the sizes
    that do not fit it (listed under "skipped"). Every ratio is measured within this
    call: the device's peak flops (`peak_flops`), one compiled run and its
    step-by-step loop on the same device (`loop_speeds`), and each size (`sweep_speed`,
    in a fresh interpreter when `fresh_process` on the CPU; a GPU is held by this
    process, so there the sizes run here, smallest first, and each one's memory is
    the GPU's peak so far).
    """
    devices.check_device(device)
    config = config_from_preset(preset, device=device)
    chosen = ensemble.sweep_device(config, max(sizes or SWEEP_SIZES))  # for the batch it can hold
    sizes, skipped = fitting_sizes(config, sizes or sweep_sizes(chosen), chosen)
    measure = _sweep_speed_in_child if fresh_process and chosen.platform == "cpu" else sweep_speed
    # The sizes first, smallest first: in this process a GPU's peak memory so far is then the size's own.
    rows = [measure(seeds, max(50, seed_iterations // seeds), preset, chosen.platform) for seeds in sizes]
    peak = peak_flops(chosen, matmul_size)
    single = loop_speeds(preset, single_steps, chosen)
    for row in rows:
        row["flop_fraction"] = row["flops_per_seed_iteration"] * row["seed_its"] / peak
        row["peak_share"] = row["model_flops_per_seed_iteration"] * row["seed_its"] / peak
        row["vs_single_run"] = row["seed_its"] / single["compiled_its"]
        row["vs_stepwise"] = row["seed_its"] / single["stepwise_its"]
    return {"preset": preset, "peak_flops": peak, "single_run_its": single["compiled_its"],
            "stepwise_its": single["stepwise_its"], "sizes": rows, **device_report(chosen, peak, matmul_size),
            "skipped": skipped}


def print_sweep_report(report: dict) -> None:
    print(f"{report['preset']} preset on {report['device']}; float32 peak {report['peak_gflops']:,.1f} GFLOP/s "
          f"({report['matmul_size']}^2 matmul); single compiled run {report['single_run_its']:,.0f} it/s, "
          f"step-by-step {report['stepwise_its']:,.0f} it/s")
    print(f"{'seeds':>7}{'devices':>8}{'seed-it/s':>14}{'memory MB':>11}{'flop/it':>9}{'of peak':>9}"
          f"{'x single':>10}{'x step':>8}")
    for row in report["sizes"]:
        print(f"{row['seeds']:>7}{row['devices']:>8}{row['seed_its']:>14,.0f}{row['peak_memory_mb']:>11,.1f}"
              f"{row['model_flops_per_seed_iteration']:>9,.0f}{row['peak_share']:>9.2%}{row['vs_single_run']:>10.2f}"
              f"{row['vs_stepwise']:>8.1f}")
    for row in report["skipped"]:
        print(f"{row['seeds']:>7}  {row['note']}")
    print("flop/it: from the networks' weights (engine.iteration_flops); XLA's own count is in --json")


def sweep_main(as_json: bool, device: str = "auto") -> None:
    """`tinygan bench --sweep`: `sweep_report` over the ladder of the device `device` resolves to, as a table or
    one JSON object."""
    report = sweep_report(device=device)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_sweep_report(report)
