"""A live session's history as `tinygan train` logs it: a row at each log point, of the step, the losses of the
iteration that starts there and G's measures at that state."""

from __future__ import annotations

import numpy as np

from tinygan.config.names import LOSS_COLUMNS


class History:
    def __init__(self, scorer, history: dict | None = None):
        """No rows, or those of a run's `history` (its columns' arrays, as a checkpoint holds them); `scorer`
        measures G's samples (`measure.scoring.make_scorer`)."""
        self.columns = (*LOSS_COLUMNS, *scorer.columns)
        self._scorer = scorer
        self.rows = [] if history is None else \
            [[int(values[0]), *map(float, values[1:])] for values in zip(*history.values())]

    def logged(self, step: int) -> bool:
        """Whether the row of `step` is there (or a later one)."""
        return bool(self.rows) and self.rows[-1][0] >= step

    def add(self, step: int, loss_d, loss_g, generated: np.ndarray) -> None:
        """The row of `step`, once: its iteration's losses and the measures of G's `generated` samples."""
        if self.logged(step):  # logged already: when it was the last state
            return
        scores = self._scorer(generated)
        self.rows.append([step, float(loss_d), float(loss_g), *(float(scores[name]) for name in self.columns[3:])])

    def arrays(self) -> dict:
        """The rows as a checkpoint holds them: a column of int64 steps, float64 values in the others."""
        return {name: np.asarray([row[i] for row in self.rows], np.int64 if name == "step" else np.float64)
                for i, name in enumerate(self.columns)}
