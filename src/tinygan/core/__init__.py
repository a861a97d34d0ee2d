"""The core numerics, each a registry of what a config's names do: the networks, the objectives, the optimizers
and their schedules, and the generator's noise."""
