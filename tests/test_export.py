"""The exported generator: one small .npz that samples bit for bit as its run did, and refuses every bad file.

One real run (the seed preset, 20 iterations) is trained for the module; the other configurations use the
state a run starts from, with an EMA apart from G's own weights: a round trip does not care whether the
weights were trained, and each training run costs seconds of compilation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pathlib
import warnings
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal, trees_equal

import tinygan
from tinygan import engine
from tinygan.data.targets import make_target, moments
from tinygan.training.export import ExportError, export_generator, load_generator
from tinygan.training.loop import NORMALIZED_BATCH, TrainResult, train

SEED_LEAVES = ["hidden.b", "hidden.w", "output.b", "output.w"]  # the seed's G, in the tree's (sorted) order


def start_result(config: tinygan.Config) -> TrainResult:
    """A result holding G's weights as `config`'s run draws them, and an EMA of them, when kept, apart from them.

    Only G is drawn: sampling reads nothing else of the state (and D's and the optimizers' set-up costs seconds).
    """
    generator = jax.jit(engine.make_game(config).generator.init)(jax.random.key(1))
    average = jax.tree.map(lambda leaf: 0.5 * leaf + 0.25, generator) if config.train.generator_ema else None
    state = engine.TrainState(generator, None, None, None, jnp.zeros((), jnp.int32), generator_ema=average)
    return TrainResult(config, state, history={}, frames=[], metrics={"iterations": 0}, status="finished",
                       pretrain_losses=np.zeros(0))


@pytest.fixture(scope="module")
def results() -> dict[str, TrainResult]:
    tiny = {"num_steps": 20, "pretrain_steps": 0, "log_every": 10}
    return {
        "seed": train(tinygan.config_from_preset("seed", **tiny), frames=False),
        "seed-minibatch": start_result(tinygan.config_from_preset("seed-minibatch", **tiny)),
        "recommended": start_result(tinygan.config_from_preset("recommended", **tiny)),  # G's EMA
        "seed-standardized": start_result(tinygan.config_from_preset("seed", standardize=True, **tiny)),
        # batch norm in 2-D, standardized by moments drawn from the ring
        "ring": start_result(tinygan.config_from_preset("ring", num_steps=10, log_every=10, generator_width=8,
                                                        discriminator_width=8, standardize=True)),
    }


def exported(result: TrainResult, path) -> object:
    return export_generator(result.config, engine.evaluated_generator(result.state), path,
                            iterations=result.metrics["iterations"])


@pytest.fixture(scope="module")
def seed_file(results, tmp_path_factory):
    return exported(results["seed"], tmp_path_factory.mktemp("export") / "seed.npz")


# ---- the round trip


@pytest.mark.parametrize("name", ["seed", "seed-minibatch", "recommended", "seed-standardized", "ring"])
def test_a_loaded_generator_samples_as_its_run_bit_for_bit(results, tmp_path, name):
    result = results[name]
    generator = load_generator(exported(result, tmp_path / "g.npz"))
    assert_trees_equal(generator.params, engine.evaluated_generator(result.state))
    assert (generator.noise_dim, generator.data_dim) == (engine.make_game(result.config).noise.dim,
                                                         result.game.target.dim)
    samples = generator.sample(257, 7)  # an int seed: jax.random.key(7)
    assert samples.dtype == np.float32 and samples.shape == (257, generator.data_dim)
    np.testing.assert_array_equal(samples, result.sample(257, key=jax.random.key(7)))
    np.testing.assert_array_equal(generator.sample(257, key=jax.random.key(7)), samples)
    assert not np.array_equal(generator.sample(257, 8), samples)


def test_the_file_holds_the_average_of_the_generators_weights_when_kept(results, tmp_path):
    state = results["recommended"].state
    generator = load_generator(exported(results["recommended"], tmp_path / "g.npz"))
    assert_trees_equal(generator.params, state.generator_ema)
    assert not trees_equal(generator.params, state.generator)


def test_batch_norm_draws_a_full_batch_even_for_a_few_samples(results, tmp_path):
    result = results["ring"]
    generator = load_generator(exported(result, tmp_path / "g.npz"))
    few = generator.sample(3, 0)
    np.testing.assert_array_equal(few, generator.sample(NORMALIZED_BATCH, 0)[:3])
    np.testing.assert_array_equal(few, result.sample(3, key=jax.random.key(0)))


def test_the_file_is_small_and_describes_itself(results, seed_file):
    result = results["seed"]
    assert seed_file.stat().st_size < 10_000  # ~3 KB: 13 weights and the manifest
    with np.load(seed_file, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(SEED_LEAVES + ["manifest", "manifest_sha256"])
        text = archive["manifest"].tobytes()
        assert archive["manifest_sha256"].tobytes().decode() == hashlib.sha256(text).hexdigest()
        manifest = json.loads(text)
        for leaf in manifest["leaves"]:
            array = archive[leaf["name"]]
            assert (leaf["shape"], leaf["dtype"]) == (list(array.shape), array.dtype.str)
            assert leaf["sha256"] == hashlib.sha256(array.tobytes()).hexdigest()
    assert (manifest["format"], manifest["version"], manifest["tinygan_version"]) == (
        "tinygan-generator", 1, tinygan.__version__)
    assert manifest["model"] == dataclasses.asdict(result.config.model)
    assert manifest["data"] == dataclasses.asdict(result.config.data)
    assert (manifest["noise_dim"], manifest["data_dim"], manifest["standardization"]) == (1, 1, None)
    assert [leaf["name"] for leaf in manifest["leaves"]] == SEED_LEAVES
    assert manifest["iterations"] == result.metrics["iterations"] == 20
    description = load_generator(seed_file).describe()
    assert "\n" not in description
    for words in ("preset seed", "20 iterations", "stratified noise 1-D", "1 hidden layer of 4 softplus units"):
        assert words in description
    assert description in repr(load_generator(seed_file))


def test_loading_needs_neither_the_config_nor_the_targets_data_file(tmp_path):
    data_file = tmp_path / "samples.npy"
    np.save(data_file, np.random.default_rng(0).normal(size=(500, 2)) * [1.0, 3.0] + [5.0, -2.0])
    config = tinygan.config_from_preset("seed", target=f"file:{data_file}", noise="gaussian", noise_dim=2,
                                        standardize=True, generator_width=8)
    result = start_result(config)
    path = exported(result, tmp_path / "g.npz")
    expected = result.sample(100, key=jax.random.key(0))
    mean, scale = moments(make_target(config.data))
    data_file.unlink()
    make_target.cache_clear()  # nothing cached may stand in for the file
    generator = load_generator(path)
    assert generator.manifest["standardization"] == {"mean": mean.tolist(), "scale": scale.tolist()}
    np.testing.assert_array_equal(generator.sample(100, 0), expected)
    assert not np.allclose(expected.mean(0), 0.0, atol=1.0)  # the mean and scale were applied


def test_export_refuses_parameters_of_another_network(results, tmp_path):
    result = results["seed"]
    with pytest.raises(ExportError, match="disagree with the generator"):
        export_generator(result.config, result.state.discriminator, tmp_path / "g.npz")
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_a_file_atomically(results, tmp_path):
    path = tmp_path / "g.npz"
    path.write_bytes(b"an older file")
    assert exported(results["seed"], path) == path
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it
    load_generator(path)


# ---- bad files: each one ExportError, one line, naming the file


def assert_refused(path, *words):
    with pytest.raises(ExportError) as caught:
        load_generator(path)
    message = str(caught.value)
    assert type(caught.value) is ExportError and "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message


def read_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members: dict[str, bytes]) -> None:
    """A valid zip (every CRC right) of these members, in order."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def with_manifest(source, target, manifest_bytes: bytes) -> None:
    """A copy of `source` holding these manifest bytes, the manifest's checksum written to match."""
    members = read_members(source)
    members["manifest.npy"] = npy(np.frombuffer(manifest_bytes, np.uint8))
    members["manifest_sha256.npy"] = npy(np.frombuffer(hashlib.sha256(manifest_bytes).hexdigest().encode(), np.uint8))
    write_members(target, members)


def edited(source, target, edit) -> None:
    """A copy of `source` whose manifest `edit(manifest)` changed in place, its checksum written to match."""
    with np.load(source, allow_pickle=False) as archive:
        manifest = json.loads(archive["manifest"].tobytes())
    edit(manifest)
    with_manifest(source, target, json.dumps(manifest).encode())


def test_refuses_non_finite_weights_even_with_every_checksum_right(seed_file, tmp_path):
    members = read_members(seed_file)
    weights = np.load(io.BytesIO(members["hidden.w.npy"]), allow_pickle=False).copy()
    weights.flat[0] = np.nan
    members["hidden.w.npy"] = npy(weights)
    manifest = json.loads(np.load(io.BytesIO(members["manifest.npy"]), allow_pickle=False).tobytes())
    next(leaf for leaf in manifest["leaves"] if leaf["name"] == "hidden.w")["sha256"] = \
        hashlib.sha256(weights.tobytes()).hexdigest()
    write_members(tmp_path / "copy.npz", members)
    with_manifest(tmp_path / "copy.npz", tmp_path / "nan.npz", json.dumps(manifest).encode())
    assert_refused(tmp_path / "nan.npz", "member 'hidden.w' holds non-finite weights")


@pytest.mark.parametrize("contents", [b"", b"hello", bytes(range(256)) * 4, npy(np.zeros(3, np.float32))])
def test_refuses_a_file_that_is_no_npz(tmp_path, contents):
    path = tmp_path / "g.npz"
    path.write_bytes(contents)
    assert_refused(path, "not a readable .npz")


def test_refuses_a_missing_file_and_an_npz_of_other_arrays(tmp_path):
    assert_refused(tmp_path / "missing.npz", "cannot read")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    assert_refused(tmp_path / "other.npz", "missing member 'manifest'")


def test_refuses_a_truncated_file(seed_file, tmp_path):
    data = seed_file.read_bytes()
    for size in (len(data) - 1, len(data) - 30, len(data) // 2, 40):
        path = tmp_path / f"cut{size}.npz"
        path.write_bytes(data[:size])
        assert_refused(path)


def test_refuses_a_byte_flipped_in_any_members_stored_bytes(seed_file, tmp_path):
    data = seed_file.read_bytes()
    with zipfile.ZipFile(seed_file) as archive:
        infos = archive.infolist()
    assert len(infos) == 6
    for info in infos:  # the byte in the middle of the member's stored data: its CRC no longer matches
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        position = start + info.compress_size // 2
        path = tmp_path / f"flip-{info.filename}"
        path.write_bytes(data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:])
        assert_refused(path, "damaged")


def test_refuses_tampered_bytes_in_any_member_even_when_the_zip_is_consistent(seed_file, tmp_path):
    for name in read_members(seed_file):  # the last byte of each .npy: array data, the zip rewritten around it
        members = read_members(seed_file)
        members[name] = members[name][:-1] + bytes([members[name][-1] ^ 0x01])
        path = tmp_path / f"tampered-{name}"
        write_members(path, members)
        assert_refused(path, "checksum", "manifest" if name.startswith("manifest") else name.removesuffix(".npy"))


def test_refuses_a_missing_an_extra_or_a_repeated_member(seed_file, tmp_path):
    for name in read_members(seed_file):
        members = read_members(seed_file)
        del members[name]
        write_members(tmp_path / "g.npz", members)
        assert_refused(tmp_path / "g.npz", "missing member", name.removesuffix(".npy"))
    write_members(tmp_path / "g.npz", {**read_members(seed_file), "extra.npy": npy(np.zeros(1, np.float32))})
    assert_refused(tmp_path / "g.npz", "unexpected member", "extra")
    write_members(tmp_path / "g.npz", {**read_members(seed_file), "notes.txt": b"hello"})
    assert_refused(tmp_path / "g.npz", "unexpected member", "notes.txt")
    with zipfile.ZipFile(tmp_path / "g.npz", "a") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name this test means to write
        archive.writestr("hidden.w.npy", read_members(seed_file)["hidden.w.npy"])
    assert_refused(tmp_path / "g.npz", "twice")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m.update(format="other-format"), ("'other-format'", "not a tinygan generator file")),
        (lambda m: m.update(version=2), ("version 2", "newer tinygan")),
        (lambda m: m.update(version="1"), ("version '1'",)),
        (lambda m: m.update(version=0), ("version 0",)),
        (lambda m: m.pop("leaves"), ("'leaves'",)),
        (lambda m: m.update(data_dim="1"), ("'data_dim'",)),
        (lambda m: m.update(standardization={"mean": [float("inf")], "scale": [1.0]}), ("'standardization'",)),
        (lambda m: m["leaves"][0].update(dtype="O"), ("malformed",)),
        (lambda m: m["leaves"][0].update(shape=[-1]), ("malformed",)),
    ],
)
def test_refuses_a_wrong_format_a_newer_version_or_a_malformed_field(seed_file, tmp_path, edit, words):
    edited(seed_file, tmp_path / "g.npz", edit)
    assert_refused(tmp_path / "g.npz", *words)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["model"].update(hidden_size=5),  # the rebuilt G's shapes change
        lambda m: m["model"].update(generator_layers=2),  # it gains leaves
        lambda m: m.update(data_dim=2),
        lambda m: m["leaves"][1].update(shape=[4, 1]),  # hidden.w is (1, 4)
        lambda m: m["leaves"][1].update(dtype="<f8"),
        lambda m: m["leaves"].reverse(),
        lambda m: m.update(noise_dim=2),
    ],
)
def test_refuses_shapes_or_dtypes_that_disagree_with_the_model_the_manifest_builds(seed_file, tmp_path, edit):
    edited(seed_file, tmp_path / "g.npz", edit)
    assert_refused(tmp_path / "g.npz", "disagree")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m["model"].update(wings=3), ("model.wings", "does not know")),
        (lambda m: m["model"].update(generator_activation="swish"), ("model.generator_activation",)),
        (lambda m: m["data"].update(noise="stratified", noise_dim=2), ("data.noise_dim",)),
        (lambda m: m["data"].update(standardize=True), ("no mean and scale",)),
        (lambda m: m.update(standardization={"mean": [4.0], "scale": [0.5]}), ("standardize is off",)),
        (lambda m: (m["data"].update(standardize=True), m.update(standardization={"mean": [4.0, 1.0], "scale": [0.5]})),
         ("numbers each",)),
    ],
)
def test_refuses_settings_that_build_no_generator(seed_file, tmp_path, edit, words):
    edited(seed_file, tmp_path / "g.npz", edit)
    assert_refused(tmp_path / "g.npz", *words)


def test_refuses_a_member_whose_array_header_disagrees_with_the_manifest(seed_file, tmp_path):
    members = read_members(seed_file)
    weights = np.load(io.BytesIO(members["hidden.w.npy"]), allow_pickle=False)
    for replacement in (weights.astype(np.float64), weights.T, weights.astype(">f4"), np.asfortranarray(
            np.zeros((2, 2), np.float32))):
        write_members(tmp_path / "g.npz", {**members, "hidden.w.npy": npy(replacement)})
        assert_refused(tmp_path / "g.npz", "hidden.w", "expected <f4[1, 4]")


@pytest.mark.parametrize("text", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b"null", b"[" * 100_000])
def test_refuses_a_manifest_that_is_no_json_object(seed_file, tmp_path, text):
    with_manifest(seed_file, tmp_path / "g.npz", text)
    assert_refused(tmp_path / "g.npz")


class Trap:
    """Unpickling it creates `marker`: the proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_an_object_array_is_refused_and_never_unpickled(seed_file, tmp_path):
    marker = tmp_path / "ran-code"
    traps = tmp_path / "traps.npz"  # object arrays as np.savez pickles them
    np.savez(traps, allow_pickle=True, trap=np.array([Trap(marker)], dtype=object))
    trap_npy = read_members(traps)["trap.npy"]

    decoy = tmp_path / "decoy"  # the payload works: an unpickling load does run it
    np.savez(tmp_path / "decoy.npz", allow_pickle=True, trap=np.array([Trap(decoy)], dtype=object))
    with np.load(tmp_path / "decoy.npz", allow_pickle=True) as archive:
        archive["trap"]
    assert decoy.exists()

    for name in ("hidden.w.npy", "manifest.npy", "manifest_sha256.npy"):
        write_members(tmp_path / "g.npz", {**read_members(seed_file), name: trap_npy})
        assert_refused(tmp_path / "g.npz", "Python objects", "never loaded")
    (tmp_path / "g.npz").write_bytes(trap_npy)  # a bare .npy of the pickle
    assert_refused(tmp_path / "g.npz")
    assert not marker.exists()


def test_any_flipped_byte_raises_only_export_error_or_loads_the_same_weights(seed_file, tmp_path):
    """Every 7th byte of the file flipped in turn (zip headers, .npy headers, data, directory)."""
    data, expected = seed_file.read_bytes(), load_generator(seed_file).params
    path, refused = tmp_path / "g.npz", 0
    for position in range(0, len(data), 7):
        path.write_bytes(data[:position] + bytes([data[position] ^ 0x10]) + data[position + 1:])
        try:
            loaded = load_generator(path)
        except ExportError as error:
            assert "\n" not in str(error) and str(path) in str(error)
            refused += 1
        else:  # a byte nothing reads, such as a member's timestamp
            assert_trees_equal(loaded.params, expected)
    assert refused > len(data) // 7 * 3 // 4
