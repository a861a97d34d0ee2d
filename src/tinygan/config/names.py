"""The names a config may hold: the vocabulary each registry implements, as plain data.

The registries (targets, noise, networks, optimizers, objectives, measures) live in layers above the
configuration and own what each name does; a test checks that every registry implements exactly these names.
Keeping the names here lets a config be checked, and the command line list its choices, without importing JAX.
"""

from __future__ import annotations

TARGETS = ("gaussian", "mixture", "scipy", "ring", "grid", "spiral", "swiss_roll", "moons", "file")
TAKES_ARGUMENT = ("scipy", "file")  # kinds written kind:ARGUMENT (a scipy law's name, a file's path)
TAKES_PARAMS = ("scipy", "ring", "grid", "spiral", "swiss_roll", "moons")  # kinds that read data.target_params
NOISES = ("stratified", "uniform", "gaussian")
ACTIVATIONS = ("tanh", "relu", "leaky_relu", "softplus", "elu", "sigmoid", "identity", "maxout")
INITS = ("normal", "glorot", "he")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
SCHEDULES = ("constant", "staircase", "cosine")
OBJECTIVES = ("minimax", "modified", "wasserstein", "wasserstein_hinge", "least_squares")
SMOOTHING_OBJECTIVES = ("minimax", "modified")  # the cross-entropy objectives, whose real labels can be smoothed
DEVICES = ("auto", "cpu", "gpu")  # train.device: where the programs run (engine/devices.py)
NAN_POLICIES = ("stop", "skip")  # train.nan_policy: end the run at a non-finite step, or discard the step

# The history's columns: the step and both losses, then the measures its target records (`scoring.metric_columns`).
LOSS_COLUMNS = ("step", "loss_d", "loss_g")
LAW_COLUMNS = ("mean", "std", "w1", "ks")
SAMPLE_COLUMNS = ("sliced_w1", "energy")
MODE_COLUMNS = ("modes_captured", "high_quality", "reverse_kl")
GRID_COLUMNS = ("kl", "js")
TABLE_COLUMNS = ("floor_ratio", "classifier", "memorised", "corr_error")  # corr_error from two columns on
ALL_COLUMNS = LAW_COLUMNS + SAMPLE_COLUMNS + MODE_COLUMNS + GRID_COLUMNS + TABLE_COLUMNS
STOP_METRICS = LOSS_COLUMNS[1:] + ALL_COLUMNS  # what a stopping rule, a plateau or keep-best may name
