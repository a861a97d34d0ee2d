"""tinygan on numeric tables against classical baselines: a benchmark suite.

`tinygan train --target file:X.csv` trains a GAN on the rows of a table (the `data` preset, sized
from the table's shape; before that preset exists the same command trains the `seed` preset).
This script measures how close its samples come to the rows, and to rows it never saw, on 22
tables that are all available offline, against scikit-learn's Gaussian mixture and kernel density
estimate, and against SDV's CTGAN where it is installed. Every measure is computed here from
numpy, scipy and scikit-learn; nothing of tinygan's own code is imported.

Data sets (written as CSV with a header to a work folder, from the fixed seed DATA_SEED, so every
run of the suite sees the same tables): scikit-learn's iris, wine (5 columns), breast cancer (the
10 "mean" columns), diabetes (unscaled, with the target) and linnerud (20 rows); statsmodels'
engel, stackloss, longley, fair, macrodata (6 columns), anes96 and randhie; scipy.stats laws of
1,000 rows (Student t with 2 degrees of freedom, lognormal, beta(2, 5), 0.9 N(0, 1) + 0.1 N(4,
0.5^2)); tinygan's 2-D shapes of 2,000 rows drawn with numpy by src/tinygan/data/shapes.py's formulas
(ring, grid, moons, spiral); Poisson(3) counts; and a 1,000,000-row table of 16 columns of mixed
laws tied by a Gaussian copula.

Measures, for each data set and method; ED^2(X, Y) = 2 E|X - Y| - E|X - X'| - E|Y - Y'| is the
squared energy distance as a V-statistic over all pairs (Euclidean), every column standardised by
the table's mean and std; tables over N_MAX = 3,000 rows are compared on a fixed random subset of
N_MAX rows (the models still fit every row):

    floor      fit on all rows; ED^2(n generated, the n rows) / the median over FLOOR_SPLITS random
               splits of ED^2(half, other half). Fresh samples of the rows' law give about 0.5,
               copies drawn from the rows about 0.25; within the floor means <= 1.
    held-out   fit on a random half A; ED^2(n generated, B) / ED^2(A, B), B the other half, n the
               table's rows (each side at most N_MAX rows); mean over HELD_OUT_SPLITS splits (one for
               the 1,000,000-row table and with --quick). A new sample of the law gives about 0.75
               (its own noise is half a half's), copies of A about 1.
    C2ST       a 5-nearest-neighbour classifier on standardised columns told generated from real rows
               (the all-rows fit, n of each, shuffled), trained on half of the mix, its accuracy on the
               other half; 0.5 = indistinguishable; with Wilson's 95% interval.
    memorised  from the held-out fits: the share of generated samples closer to their nearest row of
               A than that row is to its nearest other row of A (SDMetrics' distance to closest
               record, strictly closer, so duplicated rows never count); `memorised (held-out rows)`
               is the same share for B's real rows, the reference a model that does not copy meets.
    seconds    wall clock of the all-rows fit, end to end: every process started (for tinygan, both
               `tinygan train` and `tinygan sample`, start-up and compiling included).
    peak MB    the largest maximum resident set of any process of that fit: getrusage(RUSAGE_CHILDREN)
               .ru_maxrss read by a fresh wrapper process that runs the fit's commands (a maximum
               over the processes, not a sum over processes alive at once).

Methods, each run as its own processes:

    tinygan   `tinygan train --target file:PATH --out RUN --no-plots --quiet [--tinygan-args]`, then
              `tinygan sample RUN -n N --seed 0 --out FILE`
    gmm       sklearn GaussianMixture on standardised columns, full covariance, 1..10 components
              chosen by BIC (at most one component per d + 1 rows; fit on at most GMM_FIT_MAX rows)
    kde       sklearn KernelDensity, Gaussian kernel on standardised columns, the bandwidth chosen by
              5-fold cross-validated likelihood over a log grid (fit on at most KDE_FIT_MAX rows)
    ctgan     SDV's CTGAN with default settings (300 epochs; every column continuous), in a Python of
              its own (--ctgan-python PATH or TINYGAN_CTGAN_PYTHON), fit on at most CTGAN_FIT_MAX
              rows; skipped with a note when none is given. Make that environment with

                  python3 -m venv /tmp/ctgan-venv && /tmp/ctgan-venv/bin/pip install torch==2.13.0 ctgan

              (torch 2.13.0's CPU wheel is in this machine's local wheel folder, so that exact pin
              installs without a multi-GB download), then pass --ctgan-python /tmp/ctgan-venv/bin/python.

Usage (the extra dependencies: pip install '.[bench]'):

    python benchmarks/data_suite.py                       # everything: hours on 2 cores
    python benchmarks/data_suite.py --quick --only iris,t2 --methods gmm,kde,tinygan \\
        --tinygan-args "--num-steps 200"                  # a look in a few minutes
    python benchmarks/data_suite.py --self-check          # the measures on cases of known answer

The report (markdown, --out, default benchmarks/results/data_suite.md) and a JSON of every number
beside it are rewritten after each data set, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

DATA_SEED = 20261127  # every table is drawn from this seed, whatever --seed says
N_MAX = 3_000  # rows compared at most, per side of every measure
FLOOR_SPLITS, QUICK_FLOOR_SPLITS = 20, 10
HELD_OUT_SPLITS = 3
GMM_FIT_MAX, KDE_FIT_MAX, CTGAN_FIT_MAX = 50_000, 10_000, 50_000  # rows a baseline fits at most
BANDWIDTHS = np.logspace(-3, 0.5, 22)  # the KDE's grid, in standard units
MILLION = "million"
METHODS = ("tinygan", "gmm", "kde", "ctgan")
Z95 = 1.959963984540054
HERE = Path(__file__).resolve()

# ------------------------------------------------------------------------------------------ data sets


def sklearn_table(loader, columns=None, target=None, **kwargs):
    """A bundled scikit-learn data set as (column names, rows): its features, some columns, plus the target."""
    bunch = loader(**kwargs)
    names = [str(name).replace(" (cm)", "").replace(" ", "_") for name in bunch.feature_names]
    values = np.asarray(bunch.data, np.float64)
    if target:  # linnerud's targets are columns; diabetes's one target is the disease progression
        extra = np.asarray(bunch.target, np.float64).reshape(len(values), -1)
        names, values = names + list(target), np.hstack([values, extra])
    keep = [names.index(c) for c in columns] if columns else list(range(len(names)))
    return [names[i] for i in keep], values[:, keep]


def statsmodels_table(name, columns=None):
    """statsmodels.datasets.<name>'s numeric columns (or the ones named) as (column names, rows)."""
    import statsmodels.api as sm

    frame = getattr(sm.datasets, name).load_pandas().data.select_dtypes("number")
    frame = frame[list(columns)] if columns else frame
    return list(frame.columns), frame.to_numpy(np.float64)


def law_table(name, law, n=1_000):
    """n draws of a frozen scipy.stats law (or any object with rvs) as one column."""
    return [name], np.asarray(law.rvs(size=n, random_state=np.random.default_rng(DATA_SEED)), np.float64)[:, None]


def mixture_rows(n, rng):
    """0.9 N(0, 1) + 0.1 N(4, 0.5^2)."""
    far = rng.random(n) < 0.1
    return np.where(far, 4 + 0.5 * rng.standard_normal(n), rng.standard_normal(n))


def ring_rows(n, rng, modes=8, radius=1.0, std=0.01):
    """PacGAN's ring: `modes` equal Gaussians of std `std` on a circle, the first at angle 0 (data.ring_target)."""
    angles = 2 * np.pi * rng.integers(0, modes, n) / modes  # (n,)
    return radius * np.stack([np.cos(angles), np.sin(angles)], 1) + std * rng.standard_normal((n, 2))


def grid_rows(n, rng, size=5, spacing=2.0, std=0.05):
    """PacGAN's grid: size x size equal Gaussians at spacing * (i - (size - 1) / 2) (data.grid_target)."""
    ticks = spacing * (np.arange(size) - (size - 1) / 2)
    return ticks[rng.integers(0, size, (n, 2))] + std * rng.standard_normal((n, 2))


def moons_rows(n, rng, noise=0.05):
    """scikit-learn's two moons, centred by (1/2, 1/4), blurred by N(0, noise^2 I) (data.draw_moons)."""
    t, upper = np.pi * rng.random(n), rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t)) - 0.5
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t)) - 0.25
    return np.stack([x, y], 1) + noise * rng.standard_normal((n, 2))


def spiral_rows(n, rng, noise=0.05):
    """Two arms r = t / 3 at angle t, t = 3 pi sqrt(u), the second turned by pi (data.draw_spiral)."""
    t = 3 * np.pi * np.sqrt(rng.random(n))
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)[:, None]
    return sign * np.stack([-t * np.cos(t), t * np.sin(t)], 1) / 3 + noise * rng.standard_normal((n, 2))


def drawn_table(columns, draw, n):
    return list(columns), np.asarray(draw(n, np.random.default_rng(DATA_SEED)), np.float64).reshape(n, len(columns))


def million_table(n=1_000_000):
    """16 columns of mixed laws (4 of them integer-valued) tied by a Gaussian copula of 3 shared factors."""
    import scipy.special
    import scipy.stats as st

    rng = np.random.default_rng(DATA_SEED)
    laws = {"normal": st.norm(50, 10), "lognormal": st.lognorm(0.8), "t3": st.t(3), "exponential": st.expon(scale=2),
            "uniform": st.uniform(), "beta": st.beta(2, 5), "gamma": st.gamma(3), "poisson": st.poisson(4),
            "binomial": st.binom(10, 0.3), "bernoulli": st.bernoulli(0.3), "chi2": st.chi2(3),
            "weibull": st.weibull_min(1.5), "laplace": st.laplace(), "loguniform": st.loguniform(1, 1000),
            "skewnorm": st.skewnorm(4), "mixture": None}
    loadings = 0.8 * rng.standard_normal((len(laws), 3))  # (16, 3)
    z = rng.standard_normal((n, 3)) @ loadings.T + rng.standard_normal((n, len(laws)))  # (n, 16)
    u = scipy.special.ndtr(z / np.sqrt(1 + (loadings**2).sum(1)))  # (n, 16) uniform margins
    columns = []
    for j, law in enumerate(laws.values()):
        if law is None:  # 0.7 N(-2, 0.5^2) + 0.3 N(2, 1): u picks the component and its quantile
            low, high = u[:, j] < 0.7, np.clip(u[:, j], 1e-12, 1 - 1e-12)
            columns.append(np.where(low, -2 + 0.5 * scipy.special.ndtri(np.minimum(high / 0.7, 1 - 1e-12)),
                                    2 + scipy.special.ndtri(np.clip((high - 0.7) / 0.3, 1e-12, 1 - 1e-12))))
        else:
            columns.append(law.ppf(u[:, j]))
    return list(laws), np.stack(columns, 1)


def data_sets():
    """name -> (where it comes from, a function returning (column names, rows (n, d)))."""
    import scipy.stats as st
    from sklearn import datasets as skd

    return {
        "iris": ("sklearn load_iris", lambda: sklearn_table(skd.load_iris)),
        "wine": ("sklearn load_wine, 5 columns", lambda: sklearn_table(
            skd.load_wine, ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline"])),
        "breast_cancer": ("sklearn load_breast_cancer, the 10 mean columns", lambda: sklearn_table(
            skd.load_breast_cancer, [f"mean_{c}" for c in ("radius", "texture", "perimeter", "area", "smoothness",
                                                          "compactness", "concavity", "concave_points", "symmetry",
                                                          "fractal_dimension")])),
        "diabetes": ("sklearn load_diabetes(scaled=False), features and target",
                     lambda: sklearn_table(skd.load_diabetes, target=["progression"], scaled=False)),
        "linnerud": ("sklearn load_linnerud, exercises and physiology", lambda: sklearn_table(
            skd.load_linnerud, target=["Weight", "Waist", "Pulse"])),
        "engel": ("statsmodels engel", lambda: statsmodels_table("engel")),
        "stackloss": ("statsmodels stackloss", lambda: statsmodels_table("stackloss")),
        "longley": ("statsmodels longley", lambda: statsmodels_table("longley")),
        "fair": ("statsmodels fair", lambda: statsmodels_table("fair")),
        "macrodata": ("statsmodels macrodata, 6 columns", lambda: statsmodels_table(
            "macrodata", ["realgdp", "realcons", "realinv", "tbilrate", "unemp", "infl"])),
        "anes96": ("statsmodels anes96, numeric columns", lambda: statsmodels_table("anes96")),
        "randhie": ("statsmodels randhie", lambda: statsmodels_table("randhie")),
        "t2": ("scipy.stats t(2), 1,000 draws", lambda: law_table("x", st.t(2))),
        "lognormal": ("scipy.stats lognorm(1), 1,000 draws", lambda: law_table("x", st.lognorm(1))),
        "beta": ("scipy.stats beta(2, 5), 1,000 draws", lambda: law_table("x", st.beta(2, 5))),
        "mixture": ("0.9 N(0, 1) + 0.1 N(4, 0.5^2), 1,000 draws", lambda: drawn_table(["x"], mixture_rows, 1_000)),
        "ring": ("8 Gaussians (std 0.01) on the unit circle, 2,000 draws", lambda: drawn_table("xy", ring_rows, 2_000)),
        "grid": ("5 x 5 Gaussians (std 0.05) at spacing 2, 2,000 draws", lambda: drawn_table("xy", grid_rows, 2_000)),
        "moons": ("two moons, noise 0.05, 2,000 draws", lambda: drawn_table("xy", moons_rows, 2_000)),
        "spiral": ("two-arm spiral, noise 0.05, 2,000 draws", lambda: drawn_table("xy", spiral_rows, 2_000)),
        "poisson": ("Poisson(3) counts, 1,000 draws", lambda: law_table("count", st.poisson(3))),
        MILLION: ("16 mixed laws, Gaussian copula, 1,000,000 rows", million_table),
    }


def write_csv(path, columns, values):
    """The rows as CSV with a header, 10 significant digits (integers stay integers)."""
    import pandas as pd

    pd.DataFrame(values, columns=columns).to_csv(path, index=False, float_format="%.10g")


def read_csv(path):
    """(column names, rows (n, d) float64) of a CSV with a header."""
    import pandas as pd

    frame = pd.read_csv(path)
    return list(frame.columns), frame.to_numpy(np.float64)


# ------------------------------------------------------------------------------------------ measures


def mean_distance(x, y, chunk=1_000):
    """E|X - Y| over all pairs of rows of x (n, d) and y (m, d), Euclidean; x against x keeps the zero diagonal."""
    from scipy.spatial.distance import cdist

    return sum(cdist(x[i:i + chunk], y).sum() for i in range(0, len(x), chunk)) / (len(x) * len(y))


def energy_distance_sq(x, y):
    """ED^2 = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo 2013), the V-statistic over all pairs."""
    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)


def split_floor(rows, splits, rng):
    """ED^2(half, other half) for `splits` random halvings of rows (n, d), from one distance matrix."""
    from scipy.spatial.distance import cdist

    distances = cdist(rows, rows)  # (n, n)
    n, half = len(rows), len(rows) // 2
    values = []
    for _ in range(splits):
        a = np.zeros(n)
        a[rng.permutation(n)[:half]] = 1.0
        b = 1.0 - a
        da, db = distances @ a, distances @ b  # (n,)
        values.append(2 * (b @ da) / (half * (n - half)) - (a @ da) / half**2 - (b @ db) / (n - half) ** 2)
    return np.array(values)


def wilson_interval(successes, n, z=Z95):
    """Wilson's score interval for a binomial proportion (Wilson 1927): centre +- half-width."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def classifier_two_sample(real, generated, rng, k=5):
    """C2ST (Lopez-Paz & Oquab 2017): k-NN trained on half of the shuffled mix of real and generated, accuracy on the
    other half, with Wilson's 95% interval."""
    from sklearn.neighbors import KNeighborsClassifier

    mix = np.vstack([real, generated])  # (n_real + n_gen, d)
    labels = np.r_[np.zeros(len(real)), np.ones(len(generated))]
    order = rng.permutation(len(mix))
    train, test = order[: len(mix) // 2], order[len(mix) // 2:]
    knn = KNeighborsClassifier(n_neighbors=k).fit(mix[train], labels[train])
    correct = int((knn.predict(mix[test]) == labels[test]).sum())
    low, high = wilson_interval(correct, len(test))
    return {"accuracy": correct / len(test), "low": low, "high": high, "n_test": len(test)}


def memorised_share(training, queries):
    """Share of queries strictly closer to their nearest training row than that row is to its nearest other row."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=2).fit(training)
    distance, nearest = index.kneighbors(queries, n_neighbors=1)  # (q, 1) each
    rows = np.unique(nearest[:, 0])
    second, _ = index.kneighbors(training[rows], n_neighbors=2)  # itself (or a duplicate) at 0, then the nearest other
    gap = dict(zip(rows.tolist(), second[:, 1]))
    return float(np.mean([d < gap[i] for d, i in zip(distance[:, 0], nearest[:, 0])]))


# ------------------------------------------------------------------------------------------ methods


WRAPPER = r"""
import json, resource, subprocess, sys, time
commands, rc, error = json.loads(sys.argv[1]), 0, ""
start = time.perf_counter()
for command in commands:
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rc, error = done.returncode, done.stderr[-3000:]
    if rc:
        break
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB, the largest child's
print(json.dumps({"rc": rc, "seconds": seconds, "peak_mb": peak_kb / 1024, "error": error}))
"""

CTGAN_SCRIPT = '''"""SDV's CTGAN on a CSV (written by benchmarks/data_suite.py): fit at its defaults, sample rows."""
import random
import sys

import numpy as np
import pandas as pd
import torch
from ctgan import CTGAN

train, out, n, seed, fit_max = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
data = pd.read_csv(train)
if len(data) > fit_max:
    data = data.sample(fit_max, random_state=seed)
model = CTGAN()
model.set_random_state(seed)
model.fit(data)
model.sample(n).to_csv(out, index=False, float_format="%.10g")
'''


def method_commands(method, train, out, run_dir, n, seed, settings):
    """The commands (argument lists) that fit `method` on the CSV `train` and write n samples to `out`."""
    if method == "tinygan":
        tinygan = [sys.executable, "-m", "tinygan"]
        return [tinygan + ["train", "--target", f"file:{train}", "--out", str(run_dir), "--no-plots", "--quiet",
                           *settings["tinygan_args"]],
                tinygan + ["sample", str(run_dir), "-n", str(n), "--seed", "0", "--out", str(out)]]
    if method == "ctgan":
        return [[settings["ctgan_python"], settings["ctgan_script"], str(train), str(out), str(n), str(seed),
                 str(CTGAN_FIT_MAX)]]
    return [[sys.executable, str(HERE), "--worker", method, str(train), str(out), str(n), str(seed)]]


def run_method(method, train, folder, tag, n, seed, settings):
    """Fit and sample in fresh processes under a wrapper: seconds, peak MB and the samples, or the error."""
    out, run_dir = folder / f"{tag}-{method}.csv", folder / f"{tag}-{method}-run"
    commands = method_commands(method, train, out, run_dir, n, seed, settings)
    done = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(commands)], check=False, capture_output=True,
                          text=True)
    record = json.loads(done.stdout) if done.returncode == 0 else {"rc": done.returncode, "error": done.stderr[-3000:]}
    record["samples"], said = None, record.get("error", "")
    record["fit"] = next((line for line in said.splitlines()[::-1] if line.startswith(f"{method}: ")), None)
    if record["rc"] == 0:
        _, samples = read_csv(out)
        if samples.shape != (n, settings["dim"]):
            record["error"] = f"{out.name}: {samples.shape} samples, expected ({n}, {settings['dim']})"
        elif not np.isfinite(samples).all():
            record["error"] = f"{out.name}: {int((~np.isfinite(samples)).any(axis=1).sum())} rows not finite"
        else:
            record["samples"] = samples
    if method == "tinygan" and (run_dir / "config.json").exists():
        record["preset"] = json.loads((run_dir / "config.json").read_text()).get("preset")
    if record["samples"] is None:
        lines = [line for line in record.get("error", "").strip().splitlines() if line.strip()]
        record["error"] = lines[-1] if lines else f"exit code {record['rc']}"
    else:
        record["error"] = None
    return record


def column_scale(rows):
    """Per-column mean and std (1 where a column is constant)."""
    std = rows.std(axis=0)
    return rows.mean(axis=0), np.where(std > 0, std, 1.0)


def fit_sample_gmm(rows, n, seed):
    """GaussianMixture, full covariance, 1..10 components by BIC (at most one per d + 1 rows), n samples (n, d)."""
    from sklearn.mixture import GaussianMixture

    k_max = min(10, max(1, len(rows) // (rows.shape[1] + 1)))
    models = [GaussianMixture(k, covariance_type="full", random_state=seed).fit(rows) for k in range(1, k_max + 1)]
    best = min(models, key=lambda model: model.bic(rows))
    samples, _ = best.sample(n)  # grouped by component: shuffled below
    print(f"gmm: {best.n_components} components", file=sys.stderr)
    return samples


def fit_sample_kde(rows, n, seed):
    """Gaussian KernelDensity, the bandwidth by 5-fold cross-validated log-likelihood over BANDWIDTHS; n samples."""
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    folds = KFold(min(5, len(rows)), shuffle=True, random_state=seed)
    search = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": BANDWIDTHS}, cv=folds).fit(rows)
    print(f"kde: bandwidth {search.best_params_['bandwidth']:.4g}", file=sys.stderr)
    return search.best_estimator_.sample(n, random_state=seed)


def worker(argv):
    """--worker gmm|kde TRAIN OUT N SEED: fit a baseline on standardised columns, write N samples as CSV."""
    method, train, out, n, seed = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    columns, rows = read_csv(train)
    rng = np.random.default_rng(seed)
    fit_max = {"gmm": GMM_FIT_MAX, "kde": KDE_FIT_MAX}[method]
    if len(rows) > fit_max:
        rows = rows[rng.choice(len(rows), fit_max, replace=False)]
    mean, std = column_scale(rows)
    fit = {"gmm": fit_sample_gmm, "kde": fit_sample_kde}[method]
    samples = fit((rows - mean) / std, n, seed)
    write_csv(out, columns, mean + std * samples[rng.permutation(n)])
    return 0


# ------------------------------------------------------------------------------------------ the suite


def subset(rows, size, rng):
    return rows if len(rows) <= size else rows[np.sort(rng.choice(len(rows), size, replace=False))]


def measure_data_set(name, source, columns, rows, folder, methods, settings):
    """Every measure of every method on one table: a dict for the JSON."""
    seed, quick = settings["seed"], settings["quick"]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    mean, std = column_scale(rows)
    standard = lambda values: (values - mean) / std
    path = folder / f"{name}.csv"
    evaluated = subset(rows, N_MAX, rng)  # (n_eval, d): what the floor and C2ST compare with
    floors = split_floor(standard(evaluated), QUICK_FLOOR_SPLITS if quick else FLOOR_SPLITS, rng)
    split_count = 1 if quick or name == MILLION else HELD_OUT_SPLITS
    splits = []
    for s in range(split_count):
        order = rng.permutation(len(rows))
        a, b = rows[np.sort(order[: len(rows) // 2])], rows[np.sort(order[len(rows) // 2:])]
        a_path = folder / f"{name}-half{s}.csv"
        write_csv(a_path, columns, a)
        a_eval, b_eval = standard(subset(a, N_MAX, rng)), standard(subset(b, N_MAX, rng))
        splits.append({"path": a_path, "a": standard(a), "a_eval": a_eval, "b_eval": b_eval,
                       "reference_ed2": energy_distance_sq(a_eval, b_eval),
                       "reference_memorised": memorised_share(standard(a), b_eval)})
    result = {"name": name, "source": source, "rows": len(rows), "columns": len(columns), "column_names": columns,
              "evaluated_rows": len(evaluated), "floor_splits": floors.tolist(),
              "floor_median": float(np.median(floors)),
              "held_out_splits": split_count,
              "held_out_reference_ed2": [s["reference_ed2"] for s in splits],
              "memorised_reference": float(np.mean([s["reference_memorised"] for s in splits])), "methods": {}}
    settings = dict(settings, dim=len(columns))
    for method in methods:
        result["methods"][method] = measure_method(method, name, path, evaluated, splits, standard, floors, folder,
                                                   settings)
    return result


def measure_method(method, name, path, evaluated, splits, standard, floors, folder, settings):
    """One method on one table: the all-rows fit (floor, C2ST, cost) and the held-out fits (ratio, memorised)."""
    seed = settings["seed"]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(method.encode())])  # C2ST's shuffle
    log = lambda text: print(f"  {name} {method}: {text}", file=sys.stderr, flush=True)
    whole = run_method(method, path, folder, f"{name}-all", len(evaluated), seed, settings)
    out = {"seconds": whole.get("seconds"), "peak_mb": whole.get("peak_mb"), "error": None,
           "preset": whole.get("preset"), "fit": whole["fit"]}
    if whole["samples"] is None:
        out["error"] = f"all rows: {whole['error']}"
        log(out["error"])
    else:
        generated = standard(whole["samples"])
        out["floor_ed2"] = energy_distance_sq(generated, standard(evaluated))
        out["floor_ratio"] = out["floor_ed2"] / float(np.median(floors))
        out["c2st"] = classifier_two_sample(standard(evaluated), generated, rng)
        log(f"floor {out['floor_ratio']:.3f}, C2ST {out['c2st']['accuracy']:.3f}, {whole['seconds']:.1f} s, "
            f"{whole['peak_mb']:.0f} MB")
    held = []
    for s, split in enumerate(splits):
        run = run_method(method, split["path"], folder, f"{name}-half{s}", len(evaluated), seed + 1 + s, settings)
        entry = {"seconds": run.get("seconds"), "peak_mb": run.get("peak_mb"), "fit": run["fit"]}
        if run["samples"] is None:
            entry["error"] = run["error"]
            log(f"held-out split {s}: {run['error']}")
        else:
            generated = standard(run["samples"])
            entry["ed2"] = energy_distance_sq(generated, split["b_eval"])
            entry["reference_ed2"] = split["reference_ed2"]
            entry["ratio"] = entry["ed2"] / split["reference_ed2"]
            entry["memorised"] = memorised_share(split["a"], generated)
            log(f"held-out split {s}: ratio {entry['ratio']:.3f}, memorised {entry['memorised']:.3f}")
        held.append(entry)
    out["held_out"] = held
    done = [entry for entry in held if "ratio" in entry]
    if len(done) == len(held):
        out["held_out_ratio"] = float(np.mean([entry["ratio"] for entry in done]))
        out["held_out_ratio_of_sums"] = sum(e["ed2"] for e in done) / sum(e["reference_ed2"] for e in done)
        out["memorised"] = float(np.mean([entry["memorised"] for entry in done]))
    elif out["error"] is None:
        out["error"] = f"held-out: {next(e['error'] for e in held if 'error' in e)}"
    return out


# ------------------------------------------------------------------------------------------ report


def number(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def cell_values(entry):
    if entry is None:
        return ["-"] * 6
    c2st = entry.get("c2st")
    accuracy = f"{c2st['accuracy']:.2f} ({c2st['low']:.2f}-{c2st['high']:.2f})" if c2st else "fail"
    return [number(entry.get("floor_ratio")) if "floor_ratio" in entry else "fail",
            number(entry.get("held_out_ratio")) if "held_out_ratio" in entry else "fail", accuracy,
            number(entry.get("memorised")) if "memorised" in entry else "fail",
            number(entry.get("seconds"), 1), number(entry.get("peak_mb"), 0)]


def goal_lines(results, methods):
    """One line per goal of the data preset, counted over the data sets measured."""
    def count(rule, method):
        ok = [r["name"] for r in results if rule(r, method)]
        missed = [r["name"] for r in results if r["name"] not in ok]
        return f"{len(ok)}/{len(results)}" + (f" (not: {', '.join(missed)})" if missed else "")

    value = lambda r, m, key: r["methods"].get(m, {}).get(key)
    floor = lambda r, m: (value(r, m, "floor_ratio") or math.inf) <= 1
    held = lambda r, m: (value(r, m, "held_out_ratio") or math.inf) <= 1.15
    lines = [] if "tinygan" in methods else ["- not measured: tinygan was not among the methods"]
    if "tinygan" in methods:
        others = "; ".join(f"{m} {count(floor, m)}" for m in methods if m != "tinygan")
        lines.append(f"- within the floor (floor ratio <= 1) on every data set: tinygan {count(floor, 'tinygan')}"
                     + (f"; for comparison {others}" if others else ""))
        others = "; ".join(f"{m} {count(held, m)}" for m in methods if m != "tinygan")
        lines.append(f"- held-out ratio <= 1.15 on every data set: tinygan {count(held, 'tinygan')}"
                     + (f"; for comparison {others}" if others else ""))
        classical = [m for m in ("gmm", "kde") if m in methods]
        if classical:
            def near_best(r, m):
                best = min((value(r, c, "held_out_ratio") or math.inf) for c in classical)
                return (value(r, m, "held_out_ratio") or math.inf) <= 1.1 * best
            lines.append(f"- held-out ratio within 10% of the better of {' and '.join(classical)} "
                         f"(tinygan <= 1.1 x the better): {count(near_best, 'tinygan')}")
        else:
            lines.append("- within 10% of the better classical baseline: not measured (run gmm and kde)")
        if "ctgan" in methods:
            ahead = lambda r, m: (value(r, m, "held_out_ratio") or math.inf) < (
                value(r, "ctgan", "held_out_ratio") or math.inf)
            lines.append(f"- ahead of CTGAN (a lower held-out ratio): {count(ahead, 'tinygan')}")
        else:
            lines.append("- ahead of CTGAN: not measured (CTGAN not run)")
    return lines


LEGEND = ("Floor: ED^2(generated, rows) / median ED^2(half, half); <= 1 is within the floor, fresh samples of the law "
          "give about 0.5 and copies of the rows about 0.25. Held-out: ED^2(generated from a fit on half A, half B) / "
          "ED^2(A, B), about 1 for a new sample of the law and 1.5 for copies of A. C2ST: 5-NN accuracy telling "
          "generated from real, 0.5 = indistinguishable (Wilson 95%). Memorised: share of generated samples closer to "
          "a training row than that row's nearest other row. Seconds and peak MB (the largest max RSS of the fit's "
          "processes) of the all-rows fit.")


def report(results, methods, settings, notes):
    """The markdown: settings, one row per data set, the goals, the notes."""
    header = ["data set", "rows", "cols", "memorised (held-out rows)"]
    for m in methods:
        header += [f"{m} floor", f"{m} held-out", f"{m} C2ST", f"{m} memorised", f"{m} s", f"{m} MB"]
    lines = [f"# tinygan data suite ({settings['date']})", ""]
    if settings["label"]:
        lines += [settings["label"], ""]
    presets = sorted({e.get("preset") or "?" for r in results for m, e in r["methods"].items() if m == "tinygan"})
    trained = f" tinygan trained preset: {', '.join(presets)}" if "tinygan" in methods else ""
    if trained and settings["tinygan_args"]:
        trained += f"; flags {shlex.join(settings['tinygan_args'])}"
    lines += [f"`{settings['command']}`", "",
              f"Seed {settings['seed']}; floor splits {settings['floor_splits']}; held-out splits "
              f"{settings['held_out_splits']} (1 for `{MILLION}`); tables over "
              f"{N_MAX:,} rows compared on {N_MAX:,} random rows; GMM fits at most {GMM_FIT_MAX:,} rows, KDE "
              f"{KDE_FIT_MAX:,}, CTGAN {CTGAN_FIT_MAX:,}." + (trained + "." if trained else ""), "",
              LEGEND, "",
              "| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    for r in results:
        row = [f"`{r['name']}`", f"{r['rows']:,}", str(r["columns"]), number(r["memorised_reference"])]
        for m in methods:
            row += cell_values(r["methods"].get(m))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Goals:", ""] + goal_lines(results, methods)
    failures = [f"- `{r['name']}` {method}: {entry['error']}"
                for r in results for method, entry in r["methods"].items() if entry.get("error")]
    if notes or failures:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes] + failures
    return "\n".join(lines) + "\n"


def json_ready(value):
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# ------------------------------------------------------------------------------------------ self-check


def perfect_sampler(rows, draw, rng, splits=FLOOR_SPLITS, held_out_splits=HELD_OUT_SPLITS):
    """Every measure of a sampler `draw(rows, size)` on a table whose rows' law it knows, as the suite takes them."""
    mean, std = column_scale(rows)
    standard = lambda values: (values - mean) / std
    floor = np.median(split_floor(standard(rows), splits, rng))
    result = {"floor": energy_distance_sq(standard(draw(rows, len(rows))), standard(rows)) / floor,
              "C2ST": classifier_two_sample(standard(rows), standard(draw(rows, len(rows))), rng)["accuracy"]}
    ratios, memorised, reference = [], [], []
    for _ in range(held_out_splits):
        order = rng.permutation(len(rows))
        a, b = standard(rows[order[: len(rows) // 2]]), standard(rows[order[len(rows) // 2:]])
        generated = standard(draw(rows[order[: len(rows) // 2]], len(rows)))
        ratios.append(energy_distance_sq(generated, b) / energy_distance_sq(a, b))
        memorised.append(memorised_share(a, generated))
        reference.append(memorised_share(a, b))
    return result | {"held-out": np.mean(ratios), "memorised": np.mean(memorised), "reference": np.mean(reference)}


def self_check(seed=0, repeats=10, spread_repeats=50):
    """The measures on cases with known answers; returns 0 when every one lands in its expected range."""
    import scipy.stats as st
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(seed)
    n, failures = 1_000, 0
    mixing = np.linalg.cholesky(0.5 * np.eye(10) + 0.5)  # a 10-D Gaussian, correlation 0.5 between columns
    gaussian = lambda size: rng.standard_normal((size, 10)) @ mixing.T
    cases = {"fresh samples of the law": lambda rows, size: gaussian(size),
             "copies drawn from the rows": lambda rows, size: rows[rng.integers(0, len(rows), size)]}
    expected = {"fresh samples of the law": {"floor": (0.4, 0.65), "held-out": (0.6, 0.95), "C2ST": (0.45, 0.55)},
                "copies drawn from the rows": {"floor": (0.15, 0.35), "held-out": (0.85, 1.8), "memorised": (0.95, 1)}}
    print(f"1. A 10-D Gaussian (correlation 0.5), {n:,} rows, {repeats} tables: the mean (min-max) of each measure")
    for case, draw in cases.items():
        runs = [perfect_sampler(gaussian(n), draw, rng) for _ in range(repeats)]
        for measure in ("floor", "held-out", "C2ST", "memorised", "reference"):
            values = [run[measure] for run in runs]
            bounds = expected[case].get(measure)
            ok = bounds is None or bounds[0] <= np.mean(values) <= bounds[1]
            failures += not ok
            label = "memorised (real B)" if measure == "reference" else measure
            wanted = f"expected {bounds[0]}-{bounds[1]}" if bounds else ""
            print(f"   {case:27s} {label:18s} {np.mean(values):6.3f} ({min(values):.3f}-{max(values):.3f})  {wanted}"
                  f"{'' if ok else '  <- OUT OF RANGE'}")

    print(f"2. The spread of a perfect sampler on small low-dimensional tables ({n:,} rows, {spread_repeats} tables): "
          "how often it misses the goals by chance")
    laws = {"N(0, 1), 1-D": lambda size: rng.standard_normal((size, 1)),
            "moons, 2-D": lambda size: moons_rows(size, rng), "10-D Gaussian": gaussian}
    for name, law in laws.items():
        fresh = lambda rows, size, law=law: law(size)
        runs = [perfect_sampler(law(n), fresh, rng) for _ in range(spread_repeats)]
        floor, held = np.array([r["floor"] for r in runs]), np.array([r["held-out"] for r in runs])
        print(f"   {name:14s} floor median {np.median(floor):.2f}, 90th pct {np.quantile(floor, 0.9):.2f}, > 1 in "
              f"{np.mean(floor > 1):.0%}; held-out ({HELD_OUT_SPLITS} splits) median {np.median(held):.2f}, 90th pct "
              f"{np.quantile(held, 0.9):.2f}, > 1.15 in {np.mean(held > 1.15):.0%}")

    print("3. Exact values")
    x, y = st.t(2).rvs(300, random_state=1), st.t(2).rvs(500, random_state=2)
    ours, scipys = energy_distance_sq(x[:, None], y[:, None]), st.energy_distance(x, y) ** 2
    close = math.isclose(ours, scipys, rel_tol=1e-9)
    failures += not close
    print(f"   ED^2 in 1-D against scipy.stats.energy_distance^2: {ours:.12f} vs {scipys:.12f}"
          f"{'' if close else '  <- DIFFERENT'}")
    rows = rng.standard_normal((200, 3))
    folded = split_floor(rows, 1, np.random.default_rng(5))[0]
    half = np.random.default_rng(5).permutation(200)[:100]
    direct = energy_distance_sq(rows[half], np.delete(rows, half, axis=0))
    close = math.isclose(folded, direct, rel_tol=1e-9)
    failures += not close
    print(f"   a floor split from the distance matrix against ED^2 of the two halves: {folded:.12f} vs {direct:.12f}"
          f"{'' if close else '  <- DIFFERENT'}")
    ours_ci, theirs = wilson_interval(530, 1000), proportion_confint(530, 1000, method="wilson")
    close = np.allclose(ours_ci, theirs, rtol=1e-12)
    failures += not close
    print(f"   Wilson 95% interval of 530/1000 against statsmodels: ({ours_ci[0]:.6f}, {ours_ci[1]:.6f}) vs "
          f"({theirs[0]:.6f}, {theirs[1]:.6f}){'' if close else '  <- DIFFERENT'}")
    share = memorised_share(np.array([[0.0], [0.0], [1.0], [3.0]]), np.array([[0.0], [1.1], [2.9], [2.0]]))
    failures += share != 0.5
    print(f"   memorised share, rows 0, 0, 1, 3 and samples 0, 1.1, 2.9, 2: {share} (expected 0.5: a copy of the "
          "duplicated 0 does not count, 1.1 and 2.9 do, 2 is farther than 1's nearest other row)")
    print("self-check: " + ("every check in range" if failures == 0 else f"{failures} checks out of range"))
    return 0 if failures == 0 else 1


# ------------------------------------------------------------------------------------------ main


def ctgan_python(given):
    """The CTGAN environment's Python, checked to import ctgan; (path or None, note)."""
    path = given or os.environ.get("TINYGAN_CTGAN_PYTHON")
    if not path:
        return None, "CTGAN skipped: no --ctgan-python or TINYGAN_CTGAN_PYTHON (see this script's docstring)"
    found = shutil.which(path)
    if not found:
        return None, f"CTGAN skipped: {path} is not an executable"
    done = subprocess.run([found, "-c", "import ctgan, torch; print(ctgan.__version__, torch.__version__)"],
                          check=False, capture_output=True, text=True)
    if done.returncode:
        return None, f"CTGAN skipped: {path} cannot import ctgan ({done.stderr.strip().splitlines()[-1:]})"
    ctgan_version, torch_version = done.stdout.split()
    return found, f"CTGAN {ctgan_version} (torch {torch_version}) from {found}"


def without_label(argv):
    """The command line less --label's text (the report prints the label itself)."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--label="):
            skip = False
            continue
        skip = arg == "--label"
        kept += [] if skip else [arg]
    return kept


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated data sets (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help=f"skip `{MILLION}`, 1 held-out split, {QUICK_FLOOR_SPLITS} floor splits")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated, of " + ", ".join(METHODS))
    parser.add_argument("--tinygan-args", default="", help='extra flags for tinygan train, e.g. "--num-steps 200" '
                        '(a single flag: --tinygan-args=--preset=data)')
    parser.add_argument("--ctgan-python", help="a Python that imports ctgan (default: $TINYGAN_CTGAN_PYTHON)")
    parser.add_argument("--seed", type=int, default=0, help="splits, subsets and the baselines' seeds (default: 0)")
    parser.add_argument("--keep", metavar="DIR", help="work folder to keep (empty or new; default: a temporary one)")
    parser.add_argument("--out", default=str(HERE.parent / "results" / "data_suite.md"),
                        help="markdown report; the JSON goes beside it (default: benchmarks/results/data_suite.md)")
    parser.add_argument("--label", default="", help="a line put at the top of the report")
    parser.add_argument("--self-check", action="store_true", help="check the measures on known cases and stop")
    parser.add_argument("--list", action="store_true", help="list the data sets and stop")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    args = parse_args(argv)
    if args.self_check:
        return self_check(args.seed)
    catalogue = data_sets()
    if args.list:
        for name, (source, _) in catalogue.items():
            print(f"{name:14s} {source}")
        return 0
    names = args.only.split(",") if args.only else [n for n in catalogue if not (args.quick and n == MILLION)]
    methods = args.methods.split(",")
    for unknown in [n for n in names if n not in catalogue] + [m for m in methods if m not in METHODS]:
        sys.exit(f"data_suite.py: unknown data set or method {unknown!r} (data sets: {', '.join(catalogue)}; "
                 f"methods: {', '.join(METHODS)})")
    notes = []
    settings = {"seed": args.seed, "quick": args.quick, "tinygan_args": shlex.split(args.tinygan_args),
                "label": args.label, "date": datetime.date.today().isoformat(),
                "command": "python benchmarks/data_suite.py " + shlex.join(without_label(argv)),
                "floor_splits": QUICK_FLOOR_SPLITS if args.quick else FLOOR_SPLITS,
                "held_out_splits": 1 if args.quick else HELD_OUT_SPLITS}
    if "ctgan" in methods:
        settings["ctgan_python"], note = ctgan_python(args.ctgan_python)
        notes.append(note)
        if settings["ctgan_python"] is None:
            methods.remove("ctgan")
    if args.keep:
        folder = Path(args.keep)
        if folder.exists() and any(folder.iterdir()):
            sys.exit(f"data_suite.py: --keep {folder}: not empty")
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="tinygan-data-suite-"))
    if "ctgan" in methods:
        settings["ctgan_script"] = str(folder / "ctgan_fit_sample.py")
        Path(settings["ctgan_script"]).write_text(CTGAN_SCRIPT)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results, text = [], ""
    try:
        for name in names:
            source, build = catalogue[name]
            print(f"{name}: {source}", file=sys.stderr, flush=True)
            columns, values = build()
            write_csv(folder / f"{name}.csv", columns, values)
            _, rows = read_csv(folder / f"{name}.csv")  # exactly what the methods read
            results.append(measure_data_set(name, source, columns, rows, folder, methods, settings))
            text = report(results, methods, settings, notes)
            out.write_text(text)
            out.with_suffix(".json").write_text(json.dumps(json_ready(
                {"settings": {k: v for k, v in settings.items() if k != "quick"} | {"n_max": N_MAX, "methods": methods},
                 "notes": notes, "data_sets": results, "goals": goal_lines(results, methods)}), indent=1) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(text)
    print(f"written: {out}, {out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
