"""The named presets: each is the published setting it names, and each trains."""

import dataclasses
import math

import jax
import numpy as np
import pytest

import tinygan
from tinygan import engine
from tinygan.config import ModelConfig
from tinygan.core import networks
from tinygan.data.targets import make_target
from tinygan.engine.resolve import config_from_preset


@pytest.mark.parametrize(("name", "modes", "std"), [("ring", 8, 0.01), ("grid", 25, 0.05)])
def test_pacgan_presets_are_pacgans_setting(name, modes, std):
    config = config_from_preset(name)
    model, optim, train = config.model, config.optim, config.train
    assert (model.generator_layers, model.generator_width, model.generator_activation) == (4, 400, "relu")
    assert model.generator_batch_norm is True
    # Three maxout layers of 200 units with 5 pieces: two hidden layers and the plain third block.
    assert (model.discriminator_layers, model.discriminator_width, model.discriminator_activation) == (2, 200, "maxout")
    assert model.maxout_pieces == 5 and model.minibatch is False and model.pack == 1
    assert (model.init, model.init_std) == ("normal", 0.02)
    assert (optim.optimizer, optim.learning_rate, optim.adam_beta1, optim.schedule) == ("adam", 1e-4, 0.8, "constant")
    assert optim.pretrain_steps == 0
    assert (train.batch_size, train.num_steps, train.objective) == (100, 400_000, "modified")  # 400 epochs of 1,000
    noise = engine.make_game(config).noise
    assert noise.dim == 2 and noise.std == pytest.approx(1.0, rel=1e-15)  # z ~ N(0, I2)
    target = make_target(config.data)
    assert len(target.modes.weights) == modes and set(target.modes.stds) == {std}


def test_wgan_gp_preset_is_the_8_gaussians_of_gan_toy():
    config = config_from_preset("wgan-gp-8gaussians")
    means, stds, _ = make_target(config.data).modes
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 2 / 1.414, rtol=1e-12)
    np.testing.assert_allclose(stds, 0.02 / 1.414, rtol=1e-12)
    train, optim = config.train, config.optim
    assert (train.objective, train.gradient_penalty, train.n_critic, train.batch_size) == ("wasserstein", 0.1, 5, 256)
    assert (optim.learning_rate, optim.adam_beta1, optim.adam_beta2) == (1e-4, 0.5, 0.9)
    assert (config.model.generator_width, config.model.discriminator_width, config.model.init) == (512, 512, "he")


def test_recommended_is_the_searched_configuration():
    config = config_from_preset("recommended")
    overrides = {  # benchmarks/results/recommended_search.md
        "optimizer": "adam", "adam_beta1": 0.5, "learning_rate": 0.02, "schedule": "cosine", "noise": "gaussian",
        "noise_range": 0.3, "pretrain_steps": 0, "batch_size": 64, "num_steps": 3000, "r1": 1.0,
        "generator_ema": 0.99, "init_std": 0.5, "generator_width": 1, "generator_activation": "identity",
        "discriminator_activation": "elu", "discriminator_width": 16,
    }
    assert config == dataclasses.replace(tinygan.replace(config_from_preset("seed"), **overrides), preset="recommended")
    assert config.train.objective == "modified" and config.data.target == "gaussian"


@pytest.mark.parametrize("target", ["ring", "grid"])
def test_the_fast_pacgan_presets_are_the_searchs_wide30k_ema(target):
    """Written out in the preset, by name in the search (benchmarks/ring_grid_search.py): the same settings."""
    overrides = {
        "noise": "gaussian", "noise_dim": 2, "noise_range": 3**0.5, "pretrain_steps": 0, "optimizer": "adam",
        "adam_beta1": 0.5, "learning_rate": 1e-3, "r1": 0.1, "generator_layers": 4, "generator_width": 256,
        "generator_activation": "relu", "discriminator_layers": 2, "discriminator_width": 128,
        "discriminator_activation": "relu", "init": "he", "batch_size": 256, "schedule": "cosine",
        "num_steps": 30_000, "log_every": 2_000, "generator_ema": 0.999,
    }
    expected = tinygan.replace(config_from_preset("seed"), target=target, **overrides)
    assert config_from_preset(f"{target}-fast") == dataclasses.replace(expected, preset=f"{target}-fast")
    assert config_from_preset(f"{target}-fast").data == config_from_preset(target).data  # PacGAN's target


def test_recommended_learns_the_seeds_gaussian():
    result = tinygan.train(config_from_preset("recommended", seed=0), frames=False)
    assert result.metrics["w1"] < 0.03 and abs(result.metrics["mean"] - 4) < 0.03


# grid-fast is ring-fast's program on the grid preset's target, both trained here: left out for the suite's time.
@pytest.mark.parametrize("name", sorted(set(tinygan.PRESETS) - {"grid-fast"}))
def test_every_preset_trains_a_few_iterations(name):
    config = config_from_preset(name, num_steps=3, log_every=3, pretrain_steps=min(2, tinygan.PRESETS[name].optim.pretrain_steps))
    result = tinygan.train(config, frames=False)
    assert result.status == "finished" and result.metrics["iterations"] == 3
    assert np.isfinite(result.history["loss_d"]).all() and np.isfinite(result.history["loss_g"]).all()


@pytest.mark.parametrize(("init", "expected"), [
    ("normal", lambda fan_in, fan_out: 0.7), ("glorot", lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
    ("he", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
])
def test_init_schemes_set_each_layers_spread(init, expected):
    config = ModelConfig(init=init, init_std=0.7, generator_layers=2, generator_width=300)
    params = networks.make_generator(config, noise_dim=2, data_dim=2).init(jax.random.key(0))
    assert networks.weight_std(config, 300, 300) == pytest.approx(expected(300, 300), rel=1e-15)
    deeper = np.asarray(params["deeper"][0]["w"])  # (300, 300): 90,000 draws
    assert deeper.std() == pytest.approx(expected(300, 300), rel=0.01)
    assert np.asarray(params["hidden"]["w"]).shape == (2, 300)
