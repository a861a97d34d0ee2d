"""A config as TOML, the format `--config` reads back (`tinygan config` prints it)."""

from __future__ import annotations

import json

from tinygan.config.settings import SECTIONS


def config_toml(config) -> str:
    """A config as a TOML file that `tinygan train --config FILE` reads back into the very same config.

    Unset values (None: "the preset's rule") are left out, which is how a file leaves them unset.
    """
    lines = [f"preset = {_toml_value(config.preset)}"]
    for section, values in config.to_dict().items():
        if section in SECTIONS:
            lines += ["", f"[{section}]"]
            lines += [f"{name} = {_toml_value(value)}" for name, value in values.items() if value is not None]
    return "\n".join(lines) + "\n"



def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's (it never writes TOML's missing "\/")
    return repr(value)  # int, or a finite float: repr reads back exactly
