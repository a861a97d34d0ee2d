"""The Ray backend: a sweep's units as Ray tasks give the local backend's numbers, bit for bit.

One local Ray of 2 CPUs serves the whole module (starting it takes ~10 s). Its
workers share a JAX compilation cache, so a worker started late (after one is
killed) loads the programs instead of compiling them again (~10 s each).
"""

import concurrent.futures
import shutil
import sys

import numpy as np
import pytest

import tinygan
from tinygan.sweep import grid as sweeps
from tinygan.sweep.backends import KILL_ONCE, BackendError, RayBackend, start_ray

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def kill_marker(tmp_path_factory):
    """A local Ray for the module; the path of the kill hook's marker (there: disarmed; deleted: the next task dies)."""
    folder = tmp_path_factory.mktemp("ray")
    marker = folder / "killed"
    marker.touch()
    env = {"JAX_COMPILATION_CACHE_DIR": str(folder / "jax-cache"), KILL_ONCE: str(marker)}
    start_ray(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
    yield marker
    ray.shutdown()


@pytest.fixture(scope="module")
def plan() -> sweeps.SweepPlan:
    """Two cells of 6 seeds, a unit each: each of the 2 workers compiles one cell's programs (~10 s)."""
    config = tinygan.config_from_preset("seed", num_steps=200)
    return sweeps.plan_sweep(config, ["learning_rate=0.03,0.01"], "0:6", "w1<0.5", seed_batch=6)


@pytest.fixture(scope="module")
def results(kill_marker, plan, tmp_path_factory) -> tuple[sweeps.SweepResult, sweeps.SweepResult, list]:
    """The plan on Ray into a folder, what its progress was told, and the plan here (computed meanwhile)."""
    reports = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        on_ray = pool.submit(sweeps.run_sweep, plan, tmp_path_factory.mktemp("sweep") / "ray", backend=RayBackend(),
                             progress=lambda done, total: reports.append((done, total)))
        local = sweeps.run_sweep(plan)
        return on_ray.result(), reports, local


@pytest.fixture(scope="module")
def local_result(results) -> sweeps.SweepResult:
    return results[2]


class SpyBackend(RayBackend):
    """The Ray backend, noting the units it is given."""

    def run(self, tasks, finished, progress=None):
        self.units = [unit for unit, _ in tasks]
        super().run(tasks, finished, progress)


def assert_same_sweep(result: sweeps.SweepResult, expected: sweeps.SweepResult):
    """Rows, cell summaries and samples equal exactly (NaN equals NaN)."""
    np.testing.assert_equal(result.rows, expected.rows)
    np.testing.assert_equal(result.cells, expected.cells)
    for samples, expected_samples in zip(result.samples, expected.samples, strict=True):
        np.testing.assert_array_equal(samples, expected_samples)


def test_ray_sweep_equals_local_sweep(results, local_result, plan):
    result, reports, _ = results
    assert_same_sweep(result, local_result)
    assert len(list((result.folder / sweeps.PARTS).glob("*.json"))) == len(plan.units()) == 2
    total = 2 * 6 * 200
    assert [(6 * 200, total)] * 2 == reports  # one report per unit, as it ends


def test_a_killed_worker_is_retried(kill_marker, plan, local_result, tmp_path):
    kill_marker.unlink()  # arms the hook: the first task to start creates the marker again and exits its worker
    result = sweeps.run_sweep(plan, tmp_path / "sweep", backend=RayBackend(max_retries=1))
    assert kill_marker.exists()
    assert_same_sweep(result, local_result)


def test_resume_runs_only_the_missing_units(results, plan, local_result, tmp_path):
    folder = shutil.copytree(results[0].folder, tmp_path / "sweep")
    units = plan.units()
    missing = [units[1]]
    for unit in missing:
        for suffix in (".json", ".npz"):
            (folder / sweeps.PARTS / f"{unit.name}{suffix}").unlink()
    kept = {path: path.stat().st_mtime_ns for path in (folder / sweeps.PARTS).iterdir()}
    backend = SpyBackend()
    result = sweeps.run_sweep(plan, folder, backend=backend, resume=True)
    assert backend.units == missing
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    assert_same_sweep(result, local_result)


def test_a_worker_that_keeps_dying_ends_the_sweep_with_one_line(kill_marker, plan):
    kill_marker.unlink()
    unit = plan.units()[0]
    with pytest.raises(BackendError, match=rf"^unit {unit.name}: its Ray worker died, 1 time \(max_retries=0\)$"):
        RayBackend(max_retries=0).run([(unit, plan.configs[0].to_dict())], lambda unit, result: None)
    assert kill_marker.exists()


def test_a_unit_that_raises_ends_the_sweep_with_one_line(kill_marker, plan):
    good, bad = plan.units()
    config = plan.configs[0].to_dict()
    config["train"]["num_steps"] = 0  # refused by Config.from_dict in the worker: an error, not retried
    finished = []
    with pytest.raises(BackendError, match=rf"^unit {bad.name} failed on its Ray worker: ConfigError: "
                                           r"train.num_steps: must be >= 1, got 0$"):
        RayBackend().run([(bad, config), (good, plan.configs[1].to_dict())],
                         lambda unit, result: finished.append(unit))
    assert bad not in finished
    assert ray.is_initialized()  # a Ray it did not start is left running


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(BackendError, match=r"^the Ray backend needs Ray: pip install 'tinygan\[ray\]'$"):
        RayBackend()
