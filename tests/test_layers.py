"""The architecture as the code must keep it: layers without cycles (import-linter's contracts in pyproject.toml),
configuration that loads without JAX, and registries that implement exactly the names the configuration knows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tinygan import data
from tinygan.config import names
from tinygan.core import networks, noise, objectives, optimizers
from tinygan.engine import resolve
from tinygan.measure import scoring

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_import_keeps_the_layers():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_the_configuration_and_the_command_line_load_without_jax():
    """`tinygan --help` and a config's checks answer before JAX, SciPy and matplotlib load (a second or two)."""
    code = ("import sys; import tinygan.cli, tinygan.config; tinygan.config.Config(); "
            "heavy = [m for m in ('jax', 'scipy', 'matplotlib', 'numpy') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_each_registry_implements_exactly_the_names_the_configuration_knows():
    assert tuple(data.TARGETS) == names.TARGETS and data.TAKES_PARAMS == names.TAKES_PARAMS
    assert tuple(noise.NOISES) == names.NOISES
    assert tuple(networks.ACTIVATIONS) == names.ACTIVATIONS and tuple(networks.INITS) == names.INITS
    assert tuple(optimizers.OPTIMIZERS) == names.OPTIMIZERS and tuple(optimizers.SCHEDULES) == names.SCHEDULES
    assert tuple(objectives.OBJECTIVES) == names.OBJECTIVES
    smoothing = tuple(name for name, objective in objectives.OBJECTIVES.items() if objective.smooths_labels)
    assert smoothing == names.SMOOTHING_OBJECTIVES
    assert scoring.ALL_COLUMNS == names.ALL_COLUMNS


def test_no_module_is_longer_than_500_lines():
    package = REPO_ROOT / "src" / "tinygan"
    lengths = {path.relative_to(package): len(path.read_text().splitlines()) for path in package.rglob("*.py")}
    assert {path: n for path, n in lengths.items() if n > 500} == {}


def test_an_old_module_path_imports_its_new_home_with_a_deprecation_warning():
    from tinygan import moved

    code = ("import warnings; warnings.simplefilter('error'); import tinygan.measure.scoring\n"
            "try:\n    import tinygan.scoring\nexcept DeprecationWarning as warning:\n    print(warning)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "tinygan.scoring moved to tinygan.measure.scoring; the old path goes in the next release\n"
    code = ("import warnings, importlib; warnings.simplefilter('ignore'); import tinygan\n"
            f"for old, new in {moved.MOVED!r}.items():\n"
            "    assert importlib.import_module(old) is importlib.import_module(new), old\n"
            "assert tinygan.trainer is importlib.import_module('tinygan.training.loop')\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout == "ok\n", done.stderr[-2000:]


def test_configs_old_methods_still_answer_with_a_deprecation_warning():

    config = resolve.config_from_preset("ring", num_steps=10)
    with pytest.warns(DeprecationWarning, match=r"^Config.resolved moved to tinygan.engine.resolve.resolved"):
        assert config.resolved() == resolve.resolved(config)
    with pytest.warns(DeprecationWarning, match="main_metric"):
        assert config.main_metric == resolve.main_metric(config) == "sliced_w1"
    with pytest.warns(DeprecationWarning, match="recorded_metrics"):
        assert config.recorded_metrics == resolve.recorded_metrics(config)
