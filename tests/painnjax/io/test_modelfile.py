"""Model files: exact round trip; anything corrupt, foreign, newer or missing is a ModelFileError."""

from __future__ import annotations

import json
import warnings

import jax
import jax.numpy as jnp
import msgpack
import numpy as np
import pytest

from painnjax import Model, ModelFileError, energy_and_forces, load_model, potential, save_model
from painnjax.io.modelfile import FORMAT_VERSION, ModelFileWarning, _content_digest


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


def _rewrite_header(saved, tmp_path, name, reseal=False, **changes):
    """A copy of ``saved`` with header entries changed; ``reseal``: with a matching checksum, as
    if written so on purpose (to reach the checks behind the checksum)."""
    payload = msgpack.unpackb(saved.read_bytes(), raw=False)
    payload["header"].update(changes)
    if reseal:
        payload["sha256_all"] = _content_digest(payload["header"], payload["variables"])
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
    with pytest.raises(ModelFileError, match="altered or damaged: checksum mismatch"):
        load_model(bad)
    # Behind the checksum, a config that does not fit the weights or has unknown keys is refused too.
    bad = _rewrite_header(saved, tmp_path, "mismatch.painn", reseal=True, config=config)
    with pytest.raises(ModelFileError, match="config|shape"):
        load_model(bad)
    unknown = dict(small_model.config.to_dict(), n_atoms_basis=3)
    bad = _rewrite_header(saved, tmp_path, "unknown.painn", reseal=True, config=unknown)
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


# ---------------------------------------------------------------- the checksum covers the header


def _header_flip(blob: bytes, marker: bytes, offset: int, xor: int) -> bytes:
    """``blob`` with the byte ``offset`` after the (unique) ``marker`` xor-ed with ``xor``."""
    assert blob.count(marker) == 1, marker
    i = blob.index(marker) + offset
    out = bytearray(blob)
    out[i] ^= xor
    return bytes(out)


# One flipped bit each, as in the issue: the cutoff 5.0 becomes 2.5 Å (exponent byte of the
# float64 0x4014... -> 0x4004...), the element N (7) becomes C (6), the version 2 becomes 3.
HEADER_FLIPS = {
    "cutoff": (b"\xa6cutoff\xcb", 9, 0x10, lambda h: h["config"]["cutoff"] == 2.5),
    "element": (b"\xa8elements\x94\x01\x07", 11, 0x01, lambda h: h["metadata"]["elements"] == [1, 6, 8, 16]),
    "format_version": (b"\xaeformat_version\x02", 15, 0x03, lambda h: h["format_version"] == 1),
}


@pytest.mark.parametrize("what", sorted(HEADER_FLIPS))
def test_flipped_header_byte_is_refused(tmp_path, saved, what):
    marker, offset, xor, changed = HEADER_FLIPS[what]
    blob = _header_flip(saved.read_bytes(), marker, offset, xor)
    # The flip yields a well-formed file with a plausible header: only the checksum can tell.
    assert changed(msgpack.unpackb(blob, raw=False)["header"])
    bad = tmp_path / f"{what}.painn"
    bad.write_bytes(blob)
    with pytest.raises(ModelFileError, match=rf"{bad.name}: altered or damaged: checksum mismatch"):
        load_model(bad)


def test_every_single_bit_flip_of_the_header_is_refused(tmp_path, saved):
    blob = saved.read_bytes()
    end = blob.index(b"\xa9variables")  # the header is written first
    bad = tmp_path / "flip.painn"
    for i in range(end):
        out = bytearray(blob)
        out[i] ^= 1 << (i % 8)  # every bit position, across the bytes
        bad.write_bytes(bytes(out))
        with pytest.raises(ModelFileError, match="flip.painn"):
            load_model(bad)


def test_weights_resealed_with_their_own_checksum_are_refused(tmp_path, saved):
    """Changed weights with a matching weights checksum still fail the whole-content one."""
    import hashlib

    payload = msgpack.unpackb(saved.read_bytes(), raw=False)
    weights = bytearray(payload["variables"])
    weights[len(weights) // 3] ^= 0x01
    payload["variables"] = bytes(weights)
    payload["sha256"] = hashlib.sha256(payload["variables"]).hexdigest()
    bad = tmp_path / "resealed.painn"
    bad.write_bytes(msgpack.packb(payload, use_bin_type=True))
    with pytest.raises(ModelFileError, match="resealed.painn: altered or damaged: checksum mismatch"):
        load_model(bad)


def test_new_file_without_whole_content_checksum_is_refused(tmp_path, saved):
    payload = msgpack.unpackb(saved.read_bytes(), raw=False)
    assert payload["header"]["format_version"] == FORMAT_VERSION == 2
    del payload["sha256_all"]
    bad = tmp_path / "stripped.painn"
    bad.write_bytes(msgpack.packb(payload, use_bin_type=True))
    with pytest.raises(ModelFileError, match="stripped.painn: altered or damaged"):
        load_model(bad)


def _write_version_1(model, path):
    """The layout of format version 1, as painnjax wrote it before: the checksum covers the weights."""
    import hashlib

    from flax import serialization

    weights = serialization.msgpack_serialize(jax.device_get(model.variables))
    header = {
        "format": "painnjax-model",
        "format_version": 1,
        "painnjax_version": "0.1.0",
        "config": model.config.to_dict(),
        "metadata": model.metadata,
    }
    payload = {"header": header, "variables": weights, "sha256": hashlib.sha256(weights).hexdigest()}
    path.write_bytes(msgpack.packb(payload, use_bin_type=True))
    return path


def test_version_1_file_loads_with_a_warning_and_resaves_protected(tmp_path, small_model, sa1am1):
    old = _write_version_1(small_model, tmp_path / "old.painn")
    with pytest.warns(ModelFileWarning, match=r"old.painn: .*version 1.*Re-save it"):
        loaded = load_model(old)
    assert loaded.config == small_model.config and loaded.metadata == small_model.metadata
    for (_, x), (_, y) in zip(_leaves(small_model.variables), _leaves(loaded.variables)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # Its weights stay protected as before ...
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(_rewrite_weights_byte(old, tmp_path / "old-bad.painn"))
    # ... and re-saving protects the header too, with the same weights bytes.
    new = save_model(loaded, tmp_path / "new.painn")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelFileWarning)
        again = load_model(new)
    a, b = (msgpack.unpackb(p.read_bytes(), raw=False) for p in (old, new))
    assert a["variables"] == b["variables"] and a["sha256"] == b["sha256"]
    assert b["header"]["format_version"] == 2 and "sha256_all" in b
    assert again.config == small_model.config


def _rewrite_weights_byte(src, dst):
    payload = msgpack.unpackb(src.read_bytes(), raw=False)
    weights = bytearray(payload["variables"])
    weights[len(weights) // 2] ^= 0x01
    payload["variables"] = bytes(weights)
    dst.write_bytes(msgpack.packb(payload, use_bin_type=True))
    return dst


def test_shipped_model_is_protected_by_the_whole_content_checksum():
    """saam-gfn1 is written in the current format: it loads without a warning."""
    from painnjax.io.modelfile import resolve_model_path

    payload = msgpack.unpackb(resolve_model_path("saam-gfn1").read_bytes(), raw=False)
    assert payload["header"]["format_version"] == FORMAT_VERSION
    assert payload["sha256_all"] == _content_digest(payload["header"], payload["variables"])


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
