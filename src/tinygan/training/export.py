"""The trained generator alone, in one small self-describing file: `export_generator` and `load_generator`.

The file is an .npz written with numpy, never pickled: one array per parameter leaf (named by its tree
path, e.g. "hidden.w"), a JSON manifest stored as uint8 bytes, and the manifest's SHA-256 beside it. The
manifest holds what rebuilds the generator with the functions training uses (the config's model and data
sections, the noise and data widths, the target's mean and scale when standardized), every leaf's shape,
dtype and SHA-256, so loading needs neither the config, the run folder nor the target's data file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import stat
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from tinygan.config import Config, DataConfig, ModelConfig
from tinygan.core.networks import Network, Params, make_discriminator, make_generator, standardized
from tinygan.core.noise import drawing_key, make_noise, quasi_levels
from tinygan.data.files import DAMAGED_ARCHIVE_ERRORS, read_npy_header
from tinygan.data.targets import make_target, moments
from tinygan.data.units import from_scores, make_units
from tinygan.engine import NORMALIZED_BATCH
from tinygan.errors import ExportError
from tinygan.files import write_atomic

FORMAT = "tinygan-generator"
VERSION = 1  # the newest format version this module reads and the one it writes
MANIFEST, MANIFEST_SHA256 = "manifest", "manifest_sha256"  # the two members that are not parameter leaves
QUANTILE_LEVELS, QUANTILE_VALUES = "quantile_levels", "quantile_values"  # with data.quantile_transform
_DAMAGED = DAMAGED_ARCHIVE_ERRORS  # each becomes one ExportError naming the file


def export_generator(config: Config, params: Params, path: str | os.PathLike, *, iterations: int | None = None
                     ) -> Path:
    """Write the generator `params` (`engine.evaluated_generator(state)`: G's EMA when kept) of a run with
    `config` to one .npz file at `path`, atomically; returns the path.

    `iterations`, when given, is recorded so that the loaded generator can say how long it trained.
    """
    from tinygan import __version__  # read at call time: the package imports this module before defining it

    path = Path(path)
    target, noise = make_target(config.data), make_noise(config.data)
    mean_scale = None
    if config.data.standardize:  # plain numbers: float32 -> float -> float32 is exact
        mean, scale = moments(target)
        mean_scale = {"mean": [float(v) for v in mean], "scale": [float(v) for v in scale]}
    names, leaves, _ = _leaves(params)
    arrays = {name: np.ascontiguousarray(leaf) for name, leaf in zip(names, leaves, strict=True)}
    quantiles = {}  # with data.quantile_transform: each column's quantile function, as its knots
    if config.data.quantile_transform:
        units = make_units(config.data)
        quantiles = {QUANTILE_LEVELS: np.asarray(units.quantile_levels), QUANTILE_VALUES: np.asarray(units.quantile_values)}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "tinygan_version": __version__,
        "preset": config.preset,
        "iterations": iterations,
        "model": dataclasses.asdict(config.model),
        "data": dataclasses.asdict(config.data),
        "noise_dim": noise.dim,
        "data_dim": target.dim,
        "standardization": mean_scale,
        "leaves": [_describe_leaf(name, array) for name, array in arrays.items()],
        "quantiles": [_describe_leaf(name, array) for name, array in quantiles.items()] or None,
    }
    rebuilt = _rebuild(path, manifest)  # the file must load: refuse parameters that are not this config's G
    _check_leaves(path, manifest["leaves"], rebuilt.leaf_specs, "the parameters")

    text = json.dumps(manifest, sort_keys=True, allow_nan=False).encode()
    members = {**arrays, **quantiles, MANIFEST: np.frombuffer(text, np.uint8),
               MANIFEST_SHA256: np.frombuffer(_sha256(text).encode(), np.uint8)}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **members)
    write_atomic(path, buffer.getvalue())
    return path


def load_generator(path: str | os.PathLike) -> Generator:
    """The generator written by `export_generator`; every bad file raises one ExportError naming it."""
    if not isinstance(path, (str, os.PathLike)):
        raise ExportError(f"load_generator: expected the path of a generator file, got {path!r:.60}")
    path = Path(path)
    members = _read_members(path)
    for name in (MANIFEST, MANIFEST_SHA256):
        if name not in members:
            raise ExportError(f"{path}: missing member {name!r}: not a tinygan generator file")
    text = _read_array(path, MANIFEST, members[MANIFEST], np.dtype(np.uint8)).tobytes()
    checksum = _read_array(path, MANIFEST_SHA256, members[MANIFEST_SHA256], np.dtype(np.uint8)).tobytes()
    if checksum != _sha256(text).encode():
        raise ExportError(f"{path}: the manifest's checksum does not match: the file was changed or damaged")
    manifest = _parse_manifest(path, text)

    quantiles = manifest.get("quantiles") or []
    expected = {MANIFEST, MANIFEST_SHA256} | {leaf["name"] for leaf in manifest["leaves"] + quantiles}
    if missing := sorted(expected - members.keys()):
        raise ExportError(f"{path}: missing member(s) {', '.join(missing)}")
    if extra := sorted(members.keys() - expected):
        raise ExportError(f"{path}: unexpected member(s) {', '.join(extra)}")

    rebuilt = _rebuild(path, manifest)
    _check_leaves(path, manifest["leaves"], rebuilt.leaf_specs, "the manifest's parameters")
    arrays = []
    for leaf in manifest["leaves"]:
        array = _read_array(path, leaf["name"], members[leaf["name"]], np.dtype(leaf["dtype"]), tuple(leaf["shape"]))
        if _sha256(array.tobytes()) != leaf["sha256"]:
            raise ExportError(f"{path}: the checksum of member {leaf['name']!r} does not match: the file was "
                              "changed or damaged")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():  # every sample would be NaN
            raise ExportError(f"{path}: member {leaf['name']!r} holds non-finite weights: nothing to sample from")
        arrays.append(array)
    params = jax.tree.unflatten(rebuilt.treedef, arrays)
    network = _in_data_units(path, rebuilt.network, manifest["data_dim"], quantiles, members) if quantiles \
        else rebuilt.network
    return Generator(network, rebuilt.noise, params, {**manifest, "model": rebuilt.model, "data": rebuilt.data})


def _in_data_units(path: Path, network: Network, data_dim: int, described: list[dict], members: dict) -> Network:
    """The generator followed by its columns' quantile functions (data.quantile_transform), from the file's
    knots: float32 (k, data_dim), checksums matching, finite, levels non-decreasing in [0, 1] per column."""
    knots = {}
    for leaf in described:
        if leaf["name"] not in (QUANTILE_LEVELS, QUANTILE_VALUES) or len(leaf["shape"]) != 2:
            raise ExportError(f"{path}: the manifest's quantiles hold {leaf['name']!r}{leaf['shape']}, expected "
                              f"{QUANTILE_LEVELS} and {QUANTILE_VALUES} of shape (knots, data_dim)")
        array = _read_array(path, leaf["name"], members[leaf["name"]], np.dtype(np.float32), tuple(leaf["shape"]))
        if _sha256(array.tobytes()) != leaf["sha256"]:
            raise ExportError(f"{path}: the checksum of member {leaf['name']!r} does not match: the file was "
                              "changed or damaged")
        knots[leaf["name"]] = array
    levels, values = knots.get(QUANTILE_LEVELS), knots.get(QUANTILE_VALUES)
    if levels is None or values is None or levels.shape != values.shape or levels.shape[1] != data_dim:
        raise ExportError(f"{path}: the quantile knots must be two arrays of shape (knots, {data_dim})")
    if not (np.isfinite(levels).all() and np.isfinite(values).all() and (np.diff(levels, axis=0) >= 0).all()
            and levels.min() >= 0 and levels.max() <= 1):
        raise ExportError(f"{path}: the quantile knots are not finite, or their levels are not rising within [0, 1]")
    return Network(network.init, lambda params, z: from_scores(network.apply(params, z), levels, values),
                   network.pack)


@dataclasses.dataclass(frozen=True, eq=False)
class Generator:
    """A loaded generator: `sample(n, key)` draws what the run's `TrainResult.sample` draws, bit for bit."""

    network: Network  # rebuilt as training builds it: make_generator, then standardized when the run was
    noise: object  # its input, from tinygan.noise
    params: Params
    manifest: dict  # the file's manifest; model and data with any setting they leave out at its default

    @property
    def data_dim(self) -> int:
        return self.manifest["data_dim"]

    @property
    def noise_dim(self) -> int:
        return self.manifest["noise_dim"]

    def sample(self, n: int, key: jax.Array | int, *, quasi: bool = False) -> np.ndarray:
        """n samples, float32 of shape (n, data_dim); `key` a JAX key, or an int seed for `jax.random.key(seed)`;
        `quasi`: from quasi-random noise, as `tinygan sample` draws them.

        As `TrainResult.sample`: with batch norm, at least NORMALIZED_BATCH are drawn at once and the first n kept.
        """
        key = drawing_key(n, key)
        size = max(n, NORMALIZED_BATCH) if self.manifest["model"]["generator_batch_norm"] else n
        if quasi:
            levels = jnp.asarray(quasi_levels(key, size, self.noise.dim))
            return np.asarray(_draw_at(self.network, self.noise, self.params, levels))[:n]
        return np.asarray(_draw(self.network, self.noise, self.params, key, size))[:n]

    def describe(self) -> str:
        """One line: preset, iterations, the network from noise to data, the target and the tinygan version."""
        model, data, manifest = self.manifest["model"], self.manifest["data"], self.manifest
        width = model["generator_width"] or model["hidden_size"]
        layers = model["generator_layers"]
        norm = " with batch norm" if model["generator_batch_norm"] else ""
        trained = f", {manifest['iterations']} iterations" if manifest["iterations"] is not None else ""
        units = ("standardized units" if manifest["standardization"] else
                 "data units (through each column's quantiles)" if manifest.get("quantiles") else "data units")
        return (f"tinygan generator (preset {manifest['preset']}{trained}): {data['noise']} noise "
                f"{self.noise_dim}-D -> {layers} hidden layer{'s' if layers > 1 else ''} of {width} "
                f"{model['generator_activation']} units{norm} -> {self.data_dim}-D samples in {units} of "
                f"target {data['target']}; tinygan {manifest['tinygan_version']}")

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


@functools.partial(jax.jit, static_argnums=(0, 1, 4))
def _draw(network, noise, params, key, n):  # the very program trainer._sample compiles for the run's game
    return network.apply(params, noise.sample(key, n))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _draw_at(network, noise, params, levels):  # as trainer._sample_at
    return network.apply(params, noise.at_levels(levels))


class _Rebuilt:
    """The generator a manifest describes: its network, noise, tree structure and expected leaves, and the
    manifest's model and data sections with any setting they leave out at its default."""

    def __init__(self, network: Network, noise, template: Params, model: dict, data: dict):
        self.network, self.noise, self.model, self.data = network, noise, model, data
        names, leaves, self.treedef = _leaves(template)
        self.leaf_specs = [(name, list(leaf.shape), np.dtype(leaf.dtype).str) for name, leaf in zip(names, leaves)]


def _rebuild(path: Path, manifest: dict) -> _Rebuilt:
    """make_noise, make_generator and standardized, as `engine.make_game` calls them, from the manifest."""
    for section, settings in (("model", ModelConfig), ("data", DataConfig)):
        known = {field.name for field in dataclasses.fields(settings)}
        if unknown := sorted(manifest[section].keys() - known):
            raise ExportError(f"{path}: {section}.{unknown[0]}: a setting this tinygan does not know "
                              f"(the file was written by tinygan {manifest['tinygan_version']})")
    try:
        model = ModelConfig(**manifest["model"])
        # The noise alone: a stand-in target, since the real one (maybe a data file) is not needed to draw z.
        data = DataConfig(**{**manifest["data"], "target": "gaussian", "target_params": "", "columns": ""})
    except (TypeError, ValueError) as error:
        raise ExportError(f"{path}: the manifest's settings do not build a generator: {_one_line(error)}") from None
    noise = make_noise(data)
    if noise.dim != manifest["noise_dim"]:
        raise ExportError(f"{path}: noise_dim {manifest['noise_dim']} disagrees with the noise the settings build "
                          f"({noise.dim}-D)")
    data_dim = manifest["data_dim"]
    network = make_generator(model, noise.dim, data_dim)
    scaling = manifest["standardization"]
    if data.standardize != (scaling is not None):
        raise ExportError(f"{path}: data.standardize is {'set' if data.standardize else 'off'} but the manifest "
                          f"holds {'no' if scaling is None else 'a'} mean and scale")
    if data.standardize:
        mean, scale = (np.asarray(scaling[name], np.float32) for name in ("mean", "scale"))
        if mean.shape != (data_dim,) or scale.shape != (data_dim,):
            raise ExportError(f"{path}: the manifest's mean and scale must hold data_dim = {data_dim} numbers each")
        network, _ = standardized(network, make_discriminator(model, data_dim), mean, scale)
    template = jax.eval_shape(network.init, jax.random.key(0))  # shapes and dtypes only: nothing drawn
    settings = {**dataclasses.asdict(data), **manifest["data"]}  # the stand-in's target fields are the defaults
    return _Rebuilt(network, noise, template, dataclasses.asdict(model), settings)


def _leaves(params: Params) -> tuple[list[str], list, jax.tree_util.PyTreeDef]:
    """Each leaf's tree path as a member name ("hidden.w", "deeper.0.b"), the leaves, and the tree's structure."""
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [jax.tree_util.keystr(keys, simple=True, separator=".") for keys, _ in with_paths]
    return names, [leaf for _, leaf in with_paths], treedef


def _describe_leaf(name: str, array: np.ndarray) -> dict:
    return {"name": name, "shape": list(array.shape), "dtype": array.dtype.str, "sha256": _sha256(array.tobytes())}


def _check_leaves(path: Path, leaves: list[dict], specs: list[tuple], what: str) -> None:
    """The leaves' names, shapes and dtypes must be those of the generator the settings build, in its order."""
    found = [(leaf["name"], leaf["shape"], np.dtype(leaf["dtype"]).str) for leaf in leaves]
    for have, want in zip(found, specs):
        if have != want:
            raise ExportError(f"{path}: {what} disagree with the generator the settings build: leaf {have[0]} "
                              f"{have[2]}{have[1]}, expected {want[0]} {want[2]}{want[1]}")
    if len(found) != len(specs):
        raise ExportError(f"{path}: {what} disagree with the generator the settings build: {len(found)} leaves, "
                          f"expected {len(specs)}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _read_members(path: Path) -> dict[str, bytes]:
    """The zip's members by name without ".npy", each read whole (its CRC checked).

    Only a regular file is read (a pipe would block, /dev/zero never end), and only stored members, as
    `export_generator` writes them: a compressed one could inflate to any size (a zip bomb).
    """
    try:
        mode = path.stat().st_mode
        data = path.read_bytes() if stat.S_ISREG(mode) else b""
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ExportError(f"{path}: cannot read the file: {getattr(error, 'strerror', None) or _one_line(error)}") \
            from None
    if not stat.S_ISREG(mode):
        raise ExportError(f"{path}: cannot read the file: not a regular file (a folder, pipe or device)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise ExportError(f"{path}: a member appears twice: not a file export_generator wrote")
            if stray := [name for name in names if not name.endswith(".npy")]:
                raise ExportError(f"{path}: unexpected member {stray[0]!r}: not a tinygan generator file")
            if packed := [info.filename for info in infos if info.compress_type != zipfile.ZIP_STORED]:
                raise ExportError(f"{path}: member {packed[0]!r} is compressed: not a file export_generator wrote")
            return {info.filename.removesuffix(".npy"): archive.read(info) for info in infos}
    except ExportError:
        raise
    except _DAMAGED as error:
        raise ExportError(f"{path}: not a readable .npz file (truncated or damaged?): {_one_line(error)}") from None


def _read_array(path: Path, name: str, raw: bytes, dtype: np.dtype, shape: tuple | None = None) -> np.ndarray:
    """One member's array, its header checked (dtype, C order, shape, length) before any data is read.

    Never unpickles: an object array's header already fails the dtype check, and read_array refuses pickles.
    """
    stream = io.BytesIO(raw)
    try:
        found_shape, fortran_order, found_dtype = read_npy_header(stream)
        if found_dtype.hasobject:
            raise ExportError(f"{path}: member {name!r} holds Python objects (a pickle), which are never loaded")
        if found_dtype != dtype or fortran_order or (shape is not None and found_shape != shape) or (
            shape is None and len(found_shape) != 1
        ):
            want = f"{dtype.str}{list(shape) if shape is not None else '[n]'}"
            raise ExportError(f"{path}: member {name!r} holds {found_dtype.str}{list(found_shape)}"
                              f"{' in Fortran order' if fortran_order else ''}, expected {want}")
        if int(np.prod(found_shape)) * found_dtype.itemsize != len(raw) - stream.tell():
            raise ExportError(f"{path}: member {name!r} is truncated or has extra bytes")
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ExportError:
        raise
    except _DAMAGED as error:
        raise ExportError(f"{path}: member {name!r} is not a readable array: {_one_line(error)}") from None


def _parse_manifest(path: Path, text: bytes) -> dict:
    """The manifest's JSON, its format and version checked, and every field the loader reads of the right type."""
    try:
        manifest = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ExportError(f"{path}: the manifest is not valid JSON: {_one_line(error)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ExportError(f"{path}: format {found!r} is not {FORMAT!r}: not a tinygan generator file")
    version = manifest.get("version")
    if not _is_int(version) or version < 1:
        raise ExportError(f"{path}: format version {version!r} is not a version of {FORMAT}")
    if version > VERSION:
        raise ExportError(f"{path}: written in {FORMAT} version {version} by a newer tinygan "
                          f"({manifest.get('tinygan_version')}); this one reads version {VERSION}: upgrade tinygan")
    fields = {"tinygan_version": str, "preset": str, "model": dict, "data": dict, "noise_dim": _is_positive,
              "data_dim": _is_positive, "leaves": list, "iterations": lambda v: v is None or _is_int(v),
              "standardization": lambda v: v is None or _is_scaling(v)}
    for key, kind in fields.items():
        value = manifest.get(key, ...)
        if not (isinstance(value, kind) if isinstance(kind, type) else kind(value)):
            raise ExportError(f"{path}: the manifest's {key!r} is missing or malformed")
    quantiles = manifest.get("quantiles")  # absent from files written before data.quantile_transform
    if not (quantiles is None or isinstance(quantiles, list) and all(map(_is_leaf, quantiles))):
        raise ExportError(f"{path}: the manifest's 'quantiles' is malformed")
    if bool(quantiles) != bool(manifest["data"].get("quantile_transform")):
        raise ExportError(f"{path}: data.quantile_transform disagrees with the quantile knots the file holds")
    for leaf in manifest["leaves"]:
        if not _is_leaf(leaf):
            raise ExportError(f"{path}: the manifest's leaf {leaf!r:.80} is malformed")
    return manifest


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive(value) -> bool:
    return _is_int(value) and value >= 1


def _is_scaling(value) -> bool:
    """{"mean": [float, ...], "scale": [float, ...]}, every number finite (JSON reads 1e999 as infinity)."""
    return isinstance(value, dict) and value.keys() == {"mean", "scale"} and all(
        isinstance(column, list) and all(isinstance(v, float) and math.isfinite(v) for v in column)
        for column in value.values()
    )


def _is_leaf(leaf) -> bool:
    """{"name": str, "shape": [int >= 0, ...], "dtype": a numeric numpy dtype string, "sha256": str}."""
    if not (isinstance(leaf, dict) and leaf.keys() == {"name", "shape", "dtype", "sha256"}):
        return False
    name, shape, dtype, checksum = leaf["name"], leaf["shape"], leaf["dtype"], leaf["sha256"]
    if not (isinstance(name, str) and name not in (MANIFEST, MANIFEST_SHA256) and isinstance(checksum, str)):
        return False
    if not (isinstance(shape, list) and all(_is_int(size) and size >= 0 for size in shape)):
        return False
    try:
        return isinstance(dtype, str) and np.dtype(dtype).kind in "fiu"
    except (TypeError, ValueError):
        return False
