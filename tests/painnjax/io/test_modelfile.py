"""Model files: exact round trip; anything corrupt, foreign, newer or missing is a ModelFileError."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import msgpack
import numpy as np
import pytest

from painnjax import Model, ModelFileError, energy_and_forces, load_model, potential, save_model
from painnjax.io.modelfile import FORMAT_VERSION


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small_model):
    path = tmp_path_factory.mktemp("models") / "small.painn"
    save_model(small_model, path)
    return path


def _leaves(variables):
    return jax.tree_util.tree_leaves_with_path(variables)


def test_round_trip_identical_variables(saved, small_model):
    loaded = load_model(saved)
    assert loaded.config == small_model.config
    assert loaded.metadata == small_model.metadata
    assert loaded.elements == (1, 7, 8, 16)
    a, b = _leaves(small_model.variables), _leaves(loaded.variables)
    assert [k for k, _ in a] == [k for k, _ in b]
    for (k, x), (_, y) in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        np.testing.assert_array_equal(x, y, err_msg=str(k))
    assert loaded.n_parameters == small_model.n_parameters


def test_round_trip_identical_energies(saved, small_model, sa2am2):
    R = jnp.asarray(sa2am2.positions, jnp.float32)
    e0, F0 = energy_and_forces(potential(small_model, sa2am2))(R)
    e1, F1 = energy_and_forces(potential(load_model(saved), sa2am2))(R)
    # The potential also takes the path directly.
    e2, _ = energy_and_forces(potential(str(saved), sa2am2))(R)
    assert float(e0) == float(e1) == float(e2)
    np.testing.assert_array_equal(np.asarray(F0), np.asarray(F1))


def test_round_trip_float64_weights_and_metadata(tmp_path, small_model):
    """Weights stored in float64 (e.g. converted from a float64 SchNetPack model) stay float64."""
    v64 = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64) + 1e-12, small_model.variables)
    meta = dict(small_model.metadata, source="unit test", note={"a": [1, 2]}, elements=[1, 8])
    model = Model(small_model.config, v64, meta)
    path = save_model(model, tmp_path / "sub" / "dir" / "m64.painn")  # folders are created
    loaded = load_model(path)
    assert loaded.config == small_model.config
    assert loaded.metadata["source"] == "unit test" and loaded.metadata["note"] == {"a": [1, 2]}
    assert loaded.elements == (1, 8)
    for (_, x), (_, y) in zip(_leaves(v64), _leaves(loaded.variables)):
        assert np.asarray(y).dtype == np.float64
        np.testing.assert_array_equal(x, y)


def test_save_overwrites_and_leaves_no_temporary_files(tmp_path, small_model):
    path = tmp_path / "m.painn"
    save_model(small_model, path)
    save_model(small_model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.painn"]


@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_flipped_bytes_are_refused(tmp_path, saved, where):
    blob = bytearray(saved.read_bytes())
    k = int(len(blob) * where)
    for i in range(k, k + 4):
        blob[i] ^= 0xFF
    bad = tmp_path / "flipped.painn"
    bad.write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match=str(bad.name)):
        load_model(bad)


@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.999])
def test_truncated_file_is_refused(tmp_path, saved, keep):
    blob = saved.read_bytes()
    bad = tmp_path / "truncated.painn"
    bad.write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(ModelFileError):
        load_model(bad)


def test_appended_bytes_are_refused(tmp_path, saved):
    bad = tmp_path / "extra.painn"
    bad.write_bytes(saved.read_bytes() + b"\x00junk")
    with pytest.raises(ModelFileError):
        load_model(bad)


@pytest.mark.parametrize(
    "content",
    [
        b"this is a text file, not a model\n" * 20,
        json.dumps({"header": {"format": "painnjax-model"}, "variables": [1, 2]}).encode(),
        msgpack.packb({"header": {"format": "something-else", "format_version": 1}}),
        msgpack.packb([1, 2, 3]),
        np.random.default_rng(0).bytes(4096),
        np.random.default_rng(1).bytes(100),
    ],
    ids=["text", "json", "other-msgpack-format", "msgpack-list", "random-4k", "random-100"],
)
def test_file_of_another_format_is_refused(tmp_path, content):
    bad = tmp_path / "other.painn"
    bad.write_bytes(content)
    with pytest.raises(ModelFileError, match="other.painn"):
        load_model(bad)


def _rewrite_header(saved, tmp_path, name, **changes):
    payload = msgpack.unpackb(saved.read_bytes(), raw=False)
    payload["header"].update(changes)
    out = tmp_path / name
    out.write_bytes(msgpack.packb(payload, use_bin_type=True))
    return out


def test_newer_format_version_is_refused(tmp_path, saved):
    newer = FORMAT_VERSION + 1
    bad = _rewrite_header(saved, tmp_path, "newer.painn", format_version=newer)
    with pytest.raises(ModelFileError, match="version") as exc:
        load_model(bad)
    assert str(newer) in str(exc.value)
    # The untouched file still loads: the rewrite itself is harmless.
    ok = _rewrite_header(saved, tmp_path, "same.painn")
    assert load_model(ok).config == load_model(saved).config


def test_config_that_does_not_match_weights_is_refused(tmp_path, saved, small_model):
    config = dict(small_model.config.to_dict(), n_atom_basis=small_model.config.n_atom_basis * 2)
    bad = _rewrite_header(saved, tmp_path, "mismatch.painn", config=config)
    with pytest.raises(ModelFileError, match="config|shape"):
        load_model(bad)
    unknown = dict(small_model.config.to_dict(), n_atoms_basis=3)
    bad = _rewrite_header(saved, tmp_path, "unknown.painn", config=unknown)
    with pytest.raises(ModelFileError, match="n_atoms_basis"):
        load_model(bad)


def test_changed_weights_with_stale_checksum_are_refused(tmp_path, saved):
    payload = msgpack.unpackb(saved.read_bytes(), raw=False)
    weights = bytearray(payload["variables"])
    weights[len(weights) // 2] ^= 0x01
    payload["variables"] = bytes(weights)
    bad = tmp_path / "stale.painn"
    bad.write_bytes(msgpack.packb(payload, use_bin_type=True))
    with pytest.raises(ModelFileError, match="corrupt|checksum"):
        load_model(bad)


def test_missing_path_is_refused(tmp_path):
    missing = tmp_path / "nope" / "model.painn"
    with pytest.raises(ModelFileError, match="model.painn"):
        load_model(missing)
    with pytest.raises(ModelFileError, match="no_such_bundled_model"):
        load_model("no_such_bundled_model")


def test_folder_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_errors_reach_the_potential(tmp_path, sa1am1):
    bad = tmp_path / "bad.painn"
    bad.write_text("{}")
    with pytest.raises(ModelFileError):
        potential(bad, sa1am1)


def test_written_files_get_the_usual_permissions_not_private_ones(tmp_path):
    """atomic_write goes through a private temporary file; the result must still be readable
    by others as the umask allows (model files are shared between users)."""
    import os

    from painnjax.io.files import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert path.stat().st_mode & 0o777 == 0o644
