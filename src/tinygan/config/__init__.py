"""Configuration, the bottom layer: plain data that imports nothing else of tinygan.

`settings` holds the frozen dataclasses and the checks of their values, `names` the vocabulary the registries
implement, `presets` the named presets, `toml` a config as the TOML file `--config` reads.
"""

from tinygan.config import names
from tinygan.config.presets import (
    DATA_LOG_POINTS,
    LARGE_TABLE,
    LAW_TABLE_ROWS,
    MAX_TABLE_COLUMNS,
    MIN_TABLE_ROWS,
    PRESETS,
    SIZED_PRESETS,
    UNIT_GAUSSIAN_RANGE,
    check_table,
    data_preset,
    pacgan_preset,
)
from tinygan.config.settings import (
    MAX_BATCH,
    MAX_LAYERS,
    MAX_WIDTH,
    NAN_POLICIES,
    SECTIONS,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    StopRule,
    TrainConfig,
    field_docs,
    field_sections,
    parse_stop_rule,
    replace,
)
from tinygan.config.toml import config_toml
