"""A verdict anyone can read: did a run learn its table, or its 1-D law? Numbers, and one plain sentence.

"Learned" means the generated samples are no farther from the rows than the data's own sampling noise
(`floor_ratio` <= 1: the squared energy distance between generated samples and the rows, over the median
of that between two random halves of the rows). The rest of the verdict says how it looks from other sides:
whether a nearest-neighbour classifier can tell generated from real rows, whether the generator copies its
rows, and which column or correlation is furthest off.

For a 1-D law, "learned" means W1 to the law within LAW_W1_SHARE of the law's spread (its interquartile
range / 1.349, the standard deviation of a Gaussian, finite for heavy tails too), and the sentence sets
the generated mean and standard deviation beside the law's.
"""

from __future__ import annotations

import functools
import math

from tinygan.data.targets import FileTarget
from tinygan.measure import metrics
from tinygan.measure.scoring import MEMORISED_ROWS, TABLE_SAMPLES, standard_rows
from tinygan.measure.stats import wilson_interval

IQR_OF_NORMAL = 1.3489795003921634  # the interquartile range of N(0, 1): 2 Phi^-1(3/4)

COLUMN_OFF = 0.1  # a column's W1 beyond this share of its standard deviation is named as off
CORRELATION_OFF = 0.1  # a rank correlation off by more than this is named
LAW_W1_SHARE = 0.1  # a 1-D law is learned with W1 at most this share of its spread
SEED_PRESETS = ("seed", "seed-minibatch")  # the blog's system: when it fails, `recommended` is the way out


def table_verdict(scores: dict, table: FileTarget, num_steps: int) -> dict:
    """The verdict of a run's final `scores` (`scoring.table_scores`) on `table`, trained `num_steps`:
    learned, the classifier's 95% interval, the memorised share of new rows, the column furthest off, and
    the sentence."""
    tested = min(TABLE_SAMPLES[1], len(table.data))  # the classifier is scored on as many points
    low, high = wilson_interval(round(scores["classifier"] * tested), tested)
    reference = memorised_reference(table)
    column_w1 = [scores["w1"]] if table.dim == 1 else [scores[f"w1:{name}"] for name in table.names]
    worst = max(range(table.dim), key=lambda j: column_w1[j] / table.scale[j])
    verdict = {
        "learned": bool(scores["floor_ratio"] <= 1),
        "classifier_interval": [low, high],
        "memorised_new_rows": reference,
        "worst_column": table.names[worst],
        "worst_column_w1": column_w1[worst],
    }
    verdict["sentence"] = sentence(scores, verdict, table, num_steps)
    return verdict


def sentence(scores: dict, verdict: dict, table: FileTarget, num_steps: int) -> str:
    """One plain sentence: learned or not against the sampling noise, then what a reader should know next."""
    ratio, accuracy = scores["floor_ratio"], scores["classifier"]
    low, high = verdict["classifier_interval"]
    told = ("indistinguishable" if low <= 0.5 <= high else "told apart" if low > 0.5
            else "below chance: generated samples sit on real rows")
    parts = [f"a 5-NN classifier tells them apart {accuracy:.0%} of the time ({told})"]
    copied, reference = scores["memorised"], verdict["memorised_new_rows"]
    if copied > max(1.5 * reference, reference + 0.1):
        parts.append(f"{copied:.0%} of them are nearer a training row than any other row is, against "
                     f"{reference:.0%} for new rows: it copies its rows")
    if not math.isfinite(ratio):
        return "not learned: the generator's samples are not finite numbers"
    if verdict["learned"]:
        return f"learned: generated samples are {ratio:.2g}x the data's own sampling noise from it; {'; '.join(parts)}"
    return f"not learned: {ratio:.2g}x the data's own sampling noise; {'; '.join([*_what_is_off(scores, verdict, table), *parts])}; " \
           f"try --num-steps {_more(num_steps)}"


def _what_is_off(scores: dict, verdict: dict, table: FileTarget) -> list[str]:
    """The column furthest off (in its own units), and the correlations when they are off."""
    off = []
    worst = verdict["worst_column"]
    scale = table.scale[list(table.names).index(worst)]
    if verdict["worst_column_w1"] > COLUMN_OFF * scale:
        off.append(f"the column {worst!r} is off by {verdict['worst_column_w1']:.3g} (W1, in its units; its "
                   f"standard deviation is {scale:.3g})")
    if scores.get("corr_error", 0) > CORRELATION_OFF:
        off.append(f"a rank correlation is off by {scores['corr_error']:.2f}")
    return off


def _more(num_steps: int) -> int:
    """Twice the iterations, rounded to two significant digits."""
    twice = 2 * num_steps
    digits = max(0, len(str(twice)) - 2)
    return round(twice, -digits)


@functools.lru_cache(maxsize=4)
def memorised_reference(table: FileTarget) -> float:
    """`metrics.memorised_reference` of the table's rows in their standard units, once per table."""
    return metrics.memorised_reference(standard_rows(table, MEMORISED_ROWS))


def law_verdict(scores: dict, law, preset: str, num_steps: int) -> dict:
    """The verdict of a run's final `scores` on a 1-D `law` (a frozen scipy.stats law or alike): learned, the
    law's spread, mean and standard deviation, and the sentence."""
    spread = float((law.ppf(0.75) - law.ppf(0.25)) / IQR_OF_NORMAL)
    mean, std = float(law.mean()), float(law.std())
    w1 = scores["w1"]
    verdict = {"learned": bool(w1 <= LAW_W1_SHARE * spread), "spread": spread, "law_mean": mean, "law_std": std}
    moments = f"mean {scores['mean']:.4g} (target {mean:.4g}), std {scores['std']:.4g} (target {std:.4g})"
    if not math.isfinite(w1):
        verdict["sentence"] = "not learned: the generator's samples are not finite numbers"
    elif verdict["learned"]:
        verdict["sentence"] = f"learned: W1 {w1:.2g} from the target, {w1 / spread:.1%} of its spread; {moments}"
    else:
        advice = ("the blog's own system often fails here: try --preset recommended" if preset in SEED_PRESETS
                  else f"try --num-steps {_more(num_steps)}")
        verdict["sentence"] = f"not learned: W1 {w1:.3g} from the target, {w1 / spread:.2g}x its spread; {moments}; {advice}"
    return verdict
