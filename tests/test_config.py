"""Configuration: presets, overrides, validation messages, the learning-rate rule and serialisation."""

import dataclasses
import json

import pytest

import tinygan
from tinygan import config as config_module
from tinygan.config import (
    SECTIONS,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    field_docs,
    replace,
)
from tinygan.engine.resolve import config_from_preset, resolved

# ---------------------------------------------------------------- presets


def test_seed_preset_is_the_seed_system():
    """DESIGN.md section 1, field by field."""
    seed = config_from_preset("seed")
    assert seed.preset == "seed"
    assert seed.data == DataConfig(target="gaussian", mean=4.0, std=0.5, noise="stratified", noise_range=8.0,
                                   noise_jitter=0.01)
    assert seed.model == ModelConfig(hidden_size=4, minibatch=False, minibatch_kernels=5, minibatch_dims=3,
                                     init_std=1.0, minibatch_init_std=0.02)
    assert seed.optim == OptimConfig(learning_rate=None, decay_rate=0.95, decay_steps=150, pretrain_steps=1000)
    assert seed.train == TrainConfig(num_steps=1200, batch_size=12, log_every=10, seed=42, objective="modified")
    assert seed == Config()


def test_seed_minibatch_preset_differs_only_in_minibatch():
    minibatch = config_from_preset("seed-minibatch")
    assert minibatch.preset == "seed-minibatch"
    assert minibatch.model.minibatch is True
    assert dataclasses.replace(minibatch, preset="seed", model=ModelConfig()) == Config()


def test_preset_names():
    assert set(tinygan.PRESETS) == {"seed", "seed-minibatch", "recommended", "ring", "grid", "ring-fast", "grid-fast",
                                    "wgan-gp-8gaussians", "data"}
    assert all(preset.preset == name for name, preset in tinygan.PRESETS.items())


def test_unknown_preset():
    with pytest.raises(ConfigError) as error:
        config_from_preset("seeds")
    assert str(error.value) == ("preset: unknown preset 'seeds' (known: seed, seed-minibatch, recommended, ring, grid, "
                                "ring-fast, grid-fast, wgan-gp-8gaussians, data)")


# ---------------------------------------------------------------- overrides


def test_override_by_plain_name_and_by_path():
    by_name = config_from_preset("seed", batch_size=7, minibatch=True, mean=1.5)
    by_path = config_from_preset("seed", **{"train.batch_size": 7, "model.minibatch": True, "data.mean": 1.5})
    assert by_name == by_path
    assert (by_name.train.batch_size, by_name.model.minibatch, by_name.data.mean) == (7, True, 1.5)
    # Nothing else changed.
    assert dataclasses.replace(by_name, train=TrainConfig(), model=ModelConfig(), data=DataConfig()) == Config()


def test_replace_returns_a_new_config_and_leaves_the_preset_alone():
    seed = tinygan.PRESETS["seed"]
    changed = replace(seed, num_steps=5)
    assert changed.train.num_steps == 5 and seed.train.num_steps == 1200
    assert tinygan.PRESETS["seed"].train.num_steps == 1200
    with pytest.raises(dataclasses.FrozenInstanceError):
        seed.train.num_steps = 5


@pytest.mark.parametrize("key", ["foo", "train.foo", "model.batch_size", "training.batch_size", "preset"])
def test_unknown_setting(key):
    with pytest.raises(ConfigError) as error:
        replace(tinygan.PRESETS["seed"], **{key: 1})
    assert str(error.value) == f"{key}: unknown setting"


# ---------------------------------------------------------------- validation


INVALID = [
    ({"target": "laplace"}, "data.target: must be one of gaussian, mixture, scipy:..., ring, grid, spiral, swiss_roll, moons, file:..., got 'laplace'"),
    ({"mean": "4"}, "data.mean: must be a finite number, got '4'"),
    ({"mean": float("inf")}, "data.mean: must be a finite number, got inf"),
    ({"std": 0.0}, "data.std: must be > 0, got 0.0"),
    ({"std": -0.5}, "data.std: must be > 0, got -0.5"),
    ({"noise": "normal"}, "data.noise: must be one of gaussian, stratified, uniform, got 'normal'"),
    ({"noise_range": 0}, "data.noise_range: must be > 0, got 0"),
    ({"noise_jitter": -0.01}, "data.noise_jitter: must be >= 0, got -0.01"),
    ({"hidden_size": 0}, "model.hidden_size: must be >= 1, got 0"),
    ({"hidden_size": 2.0}, "model.hidden_size: must be a whole number, got 2.0"),
    ({"hidden_size": True}, "model.hidden_size: must be a whole number, got True"),
    ({"minibatch": "False"}, "model.minibatch: must be true or false, got 'False'"),
    ({"minibatch": 1}, "model.minibatch: must be true or false, got 1"),
    ({"minibatch_kernels": 0}, "model.minibatch_kernels: must be >= 1, got 0"),
    ({"minibatch_dims": 0}, "model.minibatch_dims: must be >= 1, got 0"),
    ({"init_std": -1.0}, "model.init_std: must be >= 0, got -1.0"),
    ({"minibatch_init_std": float("nan")}, "model.minibatch_init_std: must be a finite number, got nan"),
    ({"learning_rate": 0.0}, "optim.learning_rate: must be > 0, got 0.0"),
    ({"learning_rate": True}, "optim.learning_rate: must be a finite number, got True"),
    ({"decay_rate": 0}, "optim.decay_rate: must be > 0, got 0"),
    ({"decay_steps": 0}, "optim.decay_steps: must be >= 1, got 0"),
    ({"pretrain_steps": -1}, "optim.pretrain_steps: must be >= 0, got -1"),
    ({"num_steps": 0}, "train.num_steps: must be >= 1, got 0"),
    ({"num_steps": -5}, "train.num_steps: must be >= 1, got -5"),
    ({"batch_size": 0}, "train.batch_size: must be >= 1, got 0"),
    ({"log_every": 0}, "train.log_every: must be >= 1, got 0"),
    ({"seed": -1}, "train.seed: must be >= 0, got -1"),
    ({"objective": "hinge"},
     "train.objective: must be one of least_squares, minimax, modified, wasserstein, wasserstein_hinge, got 'hinge'"),
    ({"batch_size": 1, "minibatch": True},
     "train.batch_size: must be >= 2 with minibatch discrimination, got 1"),
]


@pytest.mark.parametrize("overrides, message", INVALID, ids=[m.split(":")[0] + "=" + repr(o) for o, m in INVALID])
def test_validation_error_names_the_field(overrides, message):
    with pytest.raises(ConfigError) as error:
        config_from_preset("seed", **overrides)
    assert str(error.value) == message


@pytest.mark.parametrize("seed", [2**32, 2**32 + 42, 2**64])
def test_seeds_that_a_key_cannot_hold_are_refused(seed):
    with pytest.raises(ConfigError, match=r"^train\.seed: "):
        config_from_preset("seed", seed=seed)


def test_the_largest_32_bit_seed_is_accepted():
    assert config_from_preset("seed", seed=2**32 - 1).train.seed == 2**32 - 1


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_edge_values_are_accepted():
    config = config_from_preset("seed", num_steps=1, batch_size=1, log_every=1, seed=0, pretrain_steps=0,
                                noise_jitter=0.0, init_std=0.0, learning_rate=1)
    assert (config.train.num_steps, config.train.batch_size, config.optim.pretrain_steps) == (1, 1, 0)
    assert config_from_preset("seed-minibatch", batch_size=2).train.batch_size == 2


# ---------------------------------------------------------------- learning rate


@pytest.mark.parametrize(
    "preset, overrides, rate",
    [
        ("seed", {}, 0.03),
        ("seed", {"minibatch": True}, 0.005),
        ("seed-minibatch", {}, 0.005),
        ("seed-minibatch", {"minibatch": False}, 0.03),
        ("seed", {"learning_rate": 0.1}, 0.1),
        ("seed-minibatch", {"learning_rate": 0.1}, 0.1),
    ],
)
def test_learning_rate_rule(preset, overrides, rate):
    config = config_from_preset(preset, **overrides)
    assert config.learning_rate == rate
    written_out = resolved(config)
    assert written_out.optim.learning_rate == rate
    assert written_out.learning_rate == rate
    assert resolved(written_out) == written_out
    assert dataclasses.replace(written_out, optim=config.optim, train=config.train) == config  # nothing else changed
    assert (written_out.train.plateau_metric, written_out.train.best_metric) == ("w1", "w1")  # 1-D: the main one


def test_resolved_does_not_change_the_original():
    config = config_from_preset("seed")
    resolved(config)
    assert config.optim.learning_rate is None


# ---------------------------------------------------------------- serialisation


CONFIGS = [
    config_from_preset("seed"),
    config_from_preset("seed-minibatch"),
    config_from_preset("seed", num_steps=77, learning_rate=0.2, hidden_size=6, objective="minimax", mean=-1.5),
    resolved(config_from_preset("seed-minibatch")),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_to_dict_from_dict_round_trip(config):
    values = config.to_dict()
    assert set(values) == {"preset", "data", "model", "optim", "train"}
    assert Config.from_dict(values) == config
    assert Config.from_dict(json.loads(json.dumps(values))) == config  # through JSON, as config.json


def test_to_dict_holds_every_field():
    values = config_from_preset("seed").to_dict()
    assert values["preset"] == "seed"
    for name, cls in SECTIONS.items():
        assert set(values[name]) == {f.name for f in dataclasses.fields(cls)}
    assert values["train"]["batch_size"] == 12 and values["optim"]["learning_rate"] is None


def test_from_dict_fills_missing_sections_and_settings_from_defaults():
    assert Config.from_dict({}) == Config()
    assert Config.from_dict({"train": {"num_steps": 5}}) == config_from_preset("seed", num_steps=5)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"training": {}}, "training: unknown section (known: data, model, optim, train)"),
        ({"train": {"num_step": 5}}, "train.num_step: unknown setting"),
        ({"model": {"batch_size": 5}}, "model.batch_size: unknown setting"),
        ({"train": 5}, "train: must be a table of settings, got 5"),
        ({"train": {"num_steps": 0}}, "train.num_steps: must be >= 1, got 0"),
    ],
)
def test_from_dict_refuses_bad_input_by_name(values, message):
    with pytest.raises(ConfigError) as error:
        Config.from_dict(values)
    assert str(error.value) == message


# ---------------------------------------------------------------- field docs


def test_field_docs_gives_each_fields_docstring():
    docs = field_docs(TrainConfig)
    assert docs["batch_size"] == "Samples per batch, real and generated alike."
    assert docs["seed"] == "Random seed: the same seed gives a bit-identical run."
    assert field_docs(ModelConfig)["minibatch"] == (
        "Minibatch discrimination as the discriminator's third block (Salimans et al. 2016).")


@pytest.mark.parametrize("cls", SECTIONS.values(), ids=SECTIONS.keys())
def test_every_field_has_a_docstring(cls):
    docs = field_docs(cls)
    assert set(docs) == {f.name for f in dataclasses.fields(cls)}
    assert all(text.strip() and text.strip()[-1] in ".)" for text in docs.values()), docs


def test_field_names_are_unique_across_sections():
    names = [f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)]
    assert len(names) == len(set(names))  # plain-name overrides and CLI flags rely on it
    assert config_module.field_sections()["batch_size"] == "train"
