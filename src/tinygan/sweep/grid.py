"""`tinygan sweep`: many seeds of every cell of a grid of settings, and how often each cell succeeds.

A sweep is planned (`plan_sweep`: the base config, the grid's cells, the
seeds, the success rule) and cut into units, a cell's seeds in batches. Each
unit is one vmapped compiled program (`training.seeds.train_seeds`), run by a
backend (`sweep/backends.py`: here, or as Ray tasks). A finished unit is written to
the sweep folder's `parts/` at once, so a stopped sweep resumes (`resume=True`)
without training it again. At the end each cell is summed up (success rate with
Wilson's 95% interval, quartiles of every metric, a test of its rate against the
first cell's) and `sweep.csv` and `summary.json` are written.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinygan.config import SECTIONS, Config, ConfigError, StopRule, field_sections, parse_stop_rule, replace
from tinygan.engine.resolve import main_metric, recorded_metrics
from tinygan.files import to_json, write_atomic
from tinygan.measure import stats
from tinygan.runs.folder import RunError
from tinygan.training import seeds as ensemble

MAX_SEEDS = 1_000_000
PICTURE_SAMPLES = 2_000  # samples of each seed's final generator kept for the sweep's pictures
PLAN_FILE, CSV_FILE, SUMMARY_FILE, PARTS = "sweep.json", "sweep.csv", "summary.json", "parts"


class SweepError(ConfigError):
    """Seeds, a grid or a success rule that cannot be used: reported in one line, like a bad setting."""


# ---------------------------------------------------------------- parsing


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0:500' (0 to 499), '3,7,11', or both ('0:10,20'): distinct seeds in the order given."""
    seeds = []
    for piece in (piece.strip() for piece in text.split(",")):
        start, colon, stop = piece.partition(":")
        try:
            first, last = (int(start), int(stop)) if colon else (int(piece), int(piece) + 1)
        except ValueError:
            raise SweepError(f"--seeds: expected N, START:STOP or a list of them joined by commas, got {piece!r}")
        if last <= first:
            raise SweepError(f"--seeds: {piece!r} holds no seed (STOP must be above START)")
        if first < 0 or last > 2**32:
            raise SweepError("--seeds: seeds must be in [0, 2**32)")
        if len(seeds) + last - first > MAX_SEEDS:  # checked before the range is built
            raise SweepError(f"--seeds: at most {MAX_SEEDS:,} seeds")
        seeds.extend(range(first, last))
    if len(set(seeds)) != len(seeds):
        raise SweepError("--seeds: a seed is given twice")
    return tuple(seeds)


_FIELD_TYPES = {f.name: f.type for cls in SECTIONS.values() for f in dataclasses.fields(cls)}


def _grid_value(name: str, text: str):
    """One grid value, typed as the config field `name` is typed; the field's own checks come after."""
    kind, text = _FIELD_TYPES[name], text.strip()
    try:
        if kind == "bool":
            return {"true": True, "false": False}[text.lower()]
        return {"int": int, "float": float, "float | None": float, "str": str}[kind](text)
    except (ValueError, KeyError):
        raise SweepError(f"--grid {name}: {text!r} is not a {kind.replace(' | None', '')}") from None


def parse_grid(items: Sequence[str], base: Config) -> list[dict]:
    """['NAME=V1,V2', ...] -> every combination as a dict of overrides (the first item varies slowest).

    Values holding commas are separated by semicolons instead: 'target_params=modes=8, radius=1;modes=4'.
    Names are config fields (`learning_rate` or `learning-rate`); each cell is
    checked as a whole config, so a bad value is refused before anything runs.
    No item gives one cell with no overrides.
    """
    axes: dict[str, list] = {}
    for item in items:
        name, equals, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not values.strip():
            raise SweepError(f"--grid: expected NAME=VALUE,VALUE,..., got {item!r}")
        if name not in field_sections():
            raise SweepError(f"--grid: unknown setting {name!r}")
        if name in ("seed", "stop_when", "keep_best"):
            raise SweepError(f"--grid: {name} cannot be swept" + (" (use --seeds)" if name == "seed" else ""))
        if name in axes:
            raise SweepError(f"--grid: {name} is given twice")
        separator = ";" if ";" in values else ","  # values that hold commas ("modes=8, radius=1") use ;
        parsed = [_grid_value(name, value) for value in values.split(separator)]
        if len(set(map(repr, parsed))) != len(parsed):
            raise SweepError(f"--grid {name}: a value is given twice")
        axes[name] = parsed
    cells = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    for cell in cells:
        try:
            replace(base, **cell)
        except ConfigError as error:
            raise SweepError(f"--grid: {error}") from None
    return cells


def parse_success(text: str, configs: Sequence[Config]) -> StopRule:
    """'w1<0.05': a final metric every cell measures, < or >, a number (the stopping rule's grammar)."""
    if text.strip() == "plateau":
        raise SweepError("--success: plateau is a stopping rule (--stop-when plateau); success is a threshold on a "
                         "final metric, METRIC<NUMBER or METRIC>NUMBER")
    try:
        rule = parse_stop_rule(text, plateau=False)
    except ValueError as error:
        raise SweepError(f"--success: {error}") from None
    if rule is None or rule.kind == "plateau" or rule.metric in ("loss_d", "loss_g"):
        raise SweepError(f"--success: expected METRIC<NUMBER or METRIC>NUMBER on a final metric, got {text!r}")
    for config in configs:
        measured = recorded_metrics(config)[2:]  # the final metrics, without the losses
        if rule.metric not in measured:
            raise SweepError(f"--success: {rule.metric} is not measured for target {config.data.target!r} "
                             f"(measured: {', '.join(measured)})")
    return rule


def succeeds(row: dict, rule: StopRule) -> bool:
    value = row[rule.metric]
    return bool(value < rule.threshold if rule.kind == "<" else value > rule.threshold)  # NaN never succeeds


# ---------------------------------------------------------------- the plan


class Unit(NamedTuple):
    """A batch of one cell's seeds: trained as one compiled program, saved as one part, run as one Ray task."""

    cell: int
    seeds: tuple[int, ...]
    width: int  # seeds the program trains at once: a short last batch is padded to the cell's width

    @property
    def name(self) -> str:
        return f"cell{self.cell:03d}-seed{self.seeds[0]}-n{len(self.seeds)}"

    def run(self, config: dict, progress: Callable[[int], None] | None = None) -> ensemble.SeedResults:
        """What a backend runs: `run_unit`. A method, so that backends need not import the sweeps above them
        (a Ray worker imports this module when it unpickles the unit)."""
        return run_unit(self, config, progress)


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Everything that decides a sweep's numbers; written as sweep.json, and compared on --resume."""

    base: Config
    cells: tuple[dict, ...]  # overrides of `base`, one dict per cell
    seeds: tuple[int, ...]
    success: str
    seed_batch: int | None = None  # None: `training.seeds.default_seed_batch` for each cell

    @property
    def configs(self) -> list[Config]:
        return [replace(self.base, **cell) for cell in self.cells]

    @property
    def rule(self) -> StopRule:
        return parse_success(self.success, self.configs)

    def units(self) -> list[Unit]:
        units = []
        for cell, config in enumerate(self.configs):
            size = min(self.seed_batch or ensemble.default_seed_batch(config, len(self.seeds)), len(self.seeds))
            units += [Unit(cell, self.seeds[i : i + size], size) for i in range(0, len(self.seeds), size)]
        return units

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "cells": list(self.cells), "seeds": _seeds_text(self.seeds),
                "success": self.success, "seed_batch": self.seed_batch}

    @classmethod
    def from_dict(cls, values: dict) -> SweepPlan:
        return cls(Config.from_dict(values["base"]), tuple(values["cells"]), parse_seeds(values["seeds"]),
                   values["success"], values["seed_batch"])


def _seeds_text(seeds: Sequence[int]) -> str:
    """Seeds as --seeds writes them: runs of consecutive seeds as START:STOP."""
    pieces, start = [], 0
    for i in range(1, len(seeds) + 1):
        if i == len(seeds) or seeds[i] != seeds[i - 1] + 1:
            pieces.append(str(seeds[start]) if i - start == 1 else f"{seeds[start]}:{seeds[i - 1] + 1}")
            start = i
    return ",".join(pieces)


def plan_sweep(base: Config, grid: Sequence[str] = (), seeds: str | Sequence[int] = "0:100",
               success: str | None = None, seed_batch: int | None = None) -> SweepPlan:
    """Check everything a sweep needs before it runs; the success rule defaults to `<main metric> < 0.1`."""
    ensemble.check_sweepable(base)
    if seed_batch is not None and seed_batch < 1:
        raise SweepError(f"--seed-batch: must be >= 1, got {seed_batch}")
    seeds = parse_seeds(seeds) if isinstance(seeds, str) else parse_seeds(",".join(map(str, seeds)))
    cells = parse_grid(grid, base)
    plan = SweepPlan(base, tuple(cells), seeds, success or f"{main_metric(base)}<0.1", seed_batch)
    parse_success(plan.success, plan.configs)  # against every cell's metrics
    return plan


# ---------------------------------------------------------------- running


def run_unit(unit: Unit, config: dict, progress: Callable[[int], None] | None = None) -> ensemble.SeedResults:
    """What a backend runs for one unit: plain data in (the cell's config as a dict), plain data out."""
    return ensemble.train_seeds(Config.from_dict(config), unit.seeds, seed_batch=unit.width, progress=progress,
                                picture_samples=PICTURE_SAMPLES)


class SweepResult(NamedTuple):
    plan: SweepPlan
    rows: list[dict]  # one per cell and seed: the cell's settings, the seed, its final metrics, success
    cells: list[dict]  # one summary per cell (`summarize`)
    samples: list[np.ndarray]  # per cell: (seeds, PICTURE_SAMPLES, dim) of each seed's final generator, as rows
    folder: Path | None
    trained: dict  # what this call trained: seed_iterations, and seconds (compiling and measuring included)


def check_sweep_dir(folder: Path, plan: SweepPlan, resume: bool) -> None:
    """A new sweep needs an empty folder; --resume needs the folder of the same plan."""
    if folder.exists() and not folder.is_dir():
        raise RunError(f"sweep folder {folder} is a file")
    plan_file = folder / PLAN_FILE
    if resume:
        if not plan_file.exists():
            raise RunError(f"--resume: {folder} holds no sweep ({PLAN_FILE} is missing)")
        try:
            saved = json.loads(plan_file.read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"--resume: {plan_file} cannot be read: {error}") from None
        if saved != json.loads(to_json(plan.to_dict())):
            raise RunError(f"--resume: {folder} holds another sweep (its settings, grid, seeds or success rule differ)")
    elif folder.is_dir() and any(folder.iterdir()):
        raise RunError(f"sweep folder {folder} is not empty (add --resume to go on with the sweep it holds)")


def run_sweep(
    plan: SweepPlan,
    folder: str | os.PathLike | None = None,
    *,
    backend=None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Train every unit of the plan not already in `folder` with `backend` (default: here), then sum up.

    `progress(seed_iterations, total)` is called as seed-iterations are played, with the total this call
    plays (a resumed sweep's units already done are not in it). With a folder, every finished unit is
    saved at once, and sweep.csv and summary.json at the end.
    """
    from tinygan.sweep.backends import LocalBackend

    backend = backend or LocalBackend()
    folder = Path(folder) if folder is not None else None
    units = plan.units()
    done: dict[Unit, ensemble.SeedResults] = {}
    if folder is not None:
        check_sweep_dir(folder, plan, resume)
        (folder / PARTS).mkdir(parents=True, exist_ok=True)
        write_atomic(folder / PLAN_FILE, to_json(plan.to_dict()))
        done = {unit: part for unit in units if (part := load_part(folder, unit)) is not None}

    def finished(unit: Unit, result: ensemble.SeedResults) -> None:
        done[unit] = result
        if folder is not None:
            save_part(folder, unit, result)

    configs = plan.configs
    todo = [unit for unit in units if unit not in done]
    total = sum(len(unit.seeds) * configs[unit.cell].train.num_steps for unit in todo)
    report = None if progress is None else lambda seed_iterations: progress(seed_iterations, total)
    start = time.perf_counter()
    backend.run([(unit, configs[unit.cell].to_dict()) for unit in todo], finished, report)
    trained = {"seed_iterations": total, "seconds": time.perf_counter() - start}
    return summarize_sweep(plan, [done[unit] for unit in units], units, folder, trained)


def save_part(folder: Path, unit: Unit, result: ensemble.SeedResults) -> None:
    """parts/<unit>.npz (the pictures' samples) then parts/<unit>.json (the rows): the JSON marks it finished."""
    buffer = io.BytesIO()
    np.savez(buffer, samples=result.samples)
    write_atomic(folder / PARTS / f"{unit.name}.npz", buffer.getvalue())
    write_atomic(folder / PARTS / f"{unit.name}.json", to_json({"seeds": list(unit.seeds), "rows": result.rows}))


def load_part(folder: Path, unit: Unit) -> ensemble.SeedResults | None:
    """A finished unit's results, or None when it is not there (or was left unreadable: it runs again)."""
    rows_file, samples_file = folder / PARTS / f"{unit.name}.json", folder / PARTS / f"{unit.name}.npz"
    try:
        saved = json.loads(rows_file.read_text())
        with np.load(samples_file, allow_pickle=False) as arrays:
            samples = arrays["samples"]
    except (OSError, ValueError, KeyError):
        return None
    if saved.get("seeds") != list(unit.seeds) or len(saved["rows"]) != len(unit.seeds):
        return None
    rows = [{k: math.nan if v is None else v for k, v in row.items()} for row in saved["rows"]]  # JSON null: NaN
    return ensemble.SeedResults(rows, samples)


# ---------------------------------------------------------------- answers


def summarize(rows: list[dict], rule: StopRule, metrics: Sequence[str]) -> dict:
    """One cell: seeds, successes, rate and Wilson's 95% interval, and each metric's quartiles."""
    successes = sum(succeeds(row, rule) for row in rows)
    low, high = stats.wilson_interval(successes, len(rows))
    summary = {"seeds": len(rows), "successes": successes, "rate": successes / len(rows), "wilson_95": [low, high]}
    summary.update({name: stats.quartiles([row[name] for row in rows]) for name in metrics})
    return summary


def summarize_sweep(plan: SweepPlan, results: list[ensemble.SeedResults], units: list[Unit],
                    folder: Path | None, trained: dict) -> SweepResult:
    rule, configs = plan.rule, plan.configs
    rows, cells, samples = [], [], []
    for cell, (settings, config) in enumerate(zip(plan.cells, configs)):
        parts = [result for unit, result in zip(units, results) if unit.cell == cell]
        cell_rows = [{"cell": cell, **settings, **row, "success": succeeds(row, rule)} for part in parts
                     for row in part.rows]
        rows += cell_rows
        samples.append(np.concatenate([part.samples for part in parts]))
        cells.append({"cell": cell, "settings": settings, **summarize(cell_rows, rule, recorded_metrics(config)[2:])})
    for summary in cells[1:]:
        summary["p_value_vs_cell_0"] = stats.two_proportion_p_value(
            summary["successes"], summary["seeds"], cells[0]["successes"], cells[0]["seeds"])
    result = SweepResult(plan, rows, cells, samples, folder, trained)
    if folder is not None:
        write_atomic(folder / CSV_FILE, sweep_csv(rows))
        write_atomic(folder / SUMMARY_FILE, to_json({"success": plan.success, "cells": cells}))
    return result


def sweep_csv(rows: list[dict]) -> str:
    """One row per cell and seed: the cell, its settings, the seed, every final metric, and success (0 or 1)."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name, "")) for name in columns])
    return buffer.getvalue()


def _csv_cell(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def sweep(
    config: Config,
    *,
    seeds: str | Sequence[int] = "0:100",
    grid: Sequence[str] = (),
    success: str | None = None,
    seed_batch: int | None = None,
    out: str | os.PathLike | None = None,
    backend: str = "local",
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **backend_options,
) -> SweepResult:
    """`tinygan sweep` in Python: every seed of every grid cell of `config`; see `plan_sweep` and `run_sweep`.

        result = tinygan.sweep(config, seeds="0:256", grid=["learning_rate=1e-3,1e-2"], success="w1<0.05")
        result.cells[1]["rate"], result.cells[1]["wilson_95"], result.rows[0]["w1"]

    `backend` is "local" or "ray" (with `address=` or `workers=`). With `out`, the
    sweep's folder is written as the command writes it (pictures aside: `sweep_pictures`).
    """
    from tinygan.sweep.backends import BACKENDS

    if backend not in BACKENDS:
        raise SweepError(f"backend: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if not isinstance(config, Config):
        raise SweepError(f"sweep: expected a tinygan.Config (tinygan.config_from_preset), got {config!r:.60}")
    if not isinstance(seeds, str) and not (isinstance(seeds, Sequence) and all(
            isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds)):
        raise SweepError(f"seeds: a text such as '0:100' or a list of whole numbers, got {seeds!r:.60}")
    grid = [grid] if isinstance(grid, str) else grid  # one NAME=VALUES,... item, not a list of its characters
    plan = plan_sweep(config, grid, seeds, success, seed_batch)
    return run_sweep(plan, out, backend=BACKENDS[backend](**backend_options), resume=resume, progress=progress)


def sweep_pictures(result: SweepResult, *, lang: str = "en") -> list[Path]:
    """The sweep's pictures (see `pictures/sweep.py`), written into its folder; their paths."""
    from tinygan.pictures import sweep as plots_sweep

    return plots_sweep.save_pictures(result, lang=lang)
