"""Train / validation / test splits: reproducible, disjoint, complete, honest test sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from painnjax.data.dataset import Dataset, read_dataset
from painnjax.data.splits import Split, make_split
from painnjax.errors import InputError

SA = [16, 8, 8, 8, 8, 1, 1]
AM = [7, 1, 1, 1]


def synthetic(trajectories: dict[str, tuple[int, int, int]]) -> Dataset:
    """Frames of (SA)n(AM)m trajectories: {name: (n_sa, n_am, n_frames)}, interleaved by name."""
    numbers, info = [], []
    for name, (n_sa, n_am, n_frames) in trajectories.items():
        for k in range(n_frames):
            numbers.append(np.asarray(SA * n_sa + AM * n_am, np.int32))
            info.append(
                {"source": "synthetic.extxyz", "frame": len(info), "name": name, "composition": f"SA{n_sa}AM{n_am}"}
            )
    return Dataset(numbers, [np.zeros((len(z), 3)) for z in numbers], -np.arange(len(numbers), dtype=float), None, info)


TRAJ = {
    "a_1sa1am": (1, 1, 30),
    "b_1sa1am": (1, 1, 30),
    "a_2sa2am": (2, 2, 40),
    "b_2sa2am": (2, 2, 40),
    "a_3sa3am": (3, 3, 40),
    "a_1sa": (1, 0, 10),
    "a_4sa3am": (4, 3, 20),
    "a_3sa4am": (3, 4, 20),
    "a_4sa4am": (4, 4, 25),
    "b_4sa4am": (4, 4, 25),
}


@pytest.fixture(scope="module")
def ds():
    return synthetic(TRAJ)


def _check_partition(split: Split, n: int):
    parts = [split.train, split.valid, split.test]
    allidx = np.concatenate(parts)
    assert len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n))  # disjoint + complete
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)


def test_frame_split_reproducible_disjoint_complete(ds):
    s1 = make_split(ds, seed=7)
    s2 = make_split(ds, seed=7)
    s3 = make_split(ds, seed=8)
    _check_partition(s1, len(ds))
    assert all(np.array_equal(a, b) for a, b in zip((s1.train, s1.valid, s1.test), (s2.train, s2.valid, s2.test)))
    assert not np.array_equal(s1.valid, s3.valid)
    assert len(s1.test) == 0 and len(s1.valid) == round(0.1 * len(ds))
    assert s1.seed == 7 and "seed 7" in s1.rule and s1.n_structures == len(ds)
    s0 = make_split(ds, valid_fraction=0.0)
    assert len(s0.valid) == 0 and len(s0.train) == len(ds)


def test_test_compositions_and_largest(ds):
    comps = np.asarray(ds.compositions)
    s = make_split(ds, test_compositions=["SA2AM2"])
    assert set(comps[s.test]) == {"SA2AM2"} and len(s.test) == 80
    assert "SA2AM2" not in set(comps[np.concatenate([s.train, s.valid])])
    assert "SA2AM2" in s.rule
    _check_partition(s, len(ds))
    # largest by atom count: SA4AM4 (44), then SA4AM3 (40) and SA3AM4 (37)
    s = make_split(ds, test_largest=1)
    assert set(comps[s.test]) == {"SA4AM4"} and len(s.test) == 50
    s = make_split(ds, test_largest=2)
    assert set(comps[s.test]) == {"SA4AM4", "SA4AM3"}
    assert "SA4AM4: 44 atoms" in s.rule
    s = make_split(ds, test_largest=2, test_compositions="SA1AM0")
    assert set(comps[s.test]) == {"SA4AM4", "SA4AM3", "SA1AM0"}
    _check_partition(s, len(ds))
    # valid is ≈ 10 % of what is left after the test set
    assert len(s.valid) == round(0.1 * (len(ds) - len(s.test)))


def test_test_largest_ties_by_name():
    ds = synthetic({"x": (2, 3, 5), "y": (1, 1, 5), "z": (3, 2, 5)})  # 26, 11 and 29 atoms
    assert set(np.asarray(ds.compositions)[make_split(ds, test_largest=1).test]) == {"SA3AM2"}
    ds = synthetic({"x": (4, 0, 5), "y": (0, 7, 5), "z": (1, 1, 5)})  # 28, 28 and 11 atoms: a tie
    comps = np.asarray(ds.compositions)
    assert set(comps[make_split(ds, test_largest=1).test]) == {"SA0AM7"}  # "SA0AM7" < "SA4AM0"
    assert set(comps[make_split(ds, test_largest=2).test]) == {"SA0AM7", "SA4AM0"}


def test_trajectory_split_keeps_trajectories_whole(ds):
    s = make_split(ds, by="trajectory", seed=3, test_largest=1, valid_fraction=0.15)
    _check_partition(s, len(ds))
    names = np.asarray([d["name"] for d in ds.info])
    assert not set(names[s.train]) & set(names[s.valid])
    assert not set(names[s.test]) & set(names[np.concatenate([s.train, s.valid])])
    rest = len(ds) - len(s.test)
    assert 0 < len(s.valid) and abs(len(s.valid) - 0.15 * rest) <= 20  # trajectories are 10-40 frames
    assert "whole trajectories" in s.rule
    again = make_split(ds, by="trajectory", seed=3, test_largest=1, valid_fraction=0.15)
    assert np.array_equal(s.valid, again.valid)
    # different seeds pick different trajectories
    picks = {tuple(make_split(ds, by="trajectory", seed=k).valid) for k in range(6)}
    assert len(picks) > 1


def test_trajectory_falls_back_to_source():
    ds = synthetic({"a": (1, 1, 4), "b": (1, 1, 6)})
    for k, d in enumerate(ds.info):
        d.pop("name")
        d["source"] = "a.xyz" if k < 4 else "b.xyz"
    s = make_split(ds, by="trajectory", valid_fraction=0.3)
    assert s.valid.tolist() in ([0, 1, 2, 3], [4, 5, 6, 7, 8, 9])
    with pytest.raises(InputError, match="only one trajectory"):
        make_split(synthetic({"a": (1, 1, 4)}), by="trajectory")


def test_real_pool_trajectory_split(shared_data):
    path = shared_data / "saam_gfn1" / "train_pool_300K.extxyz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    ds = read_dataset(path, require_forces=False)
    s = make_split(ds, by="trajectory", test_largest=2, seed=42)
    _check_partition(s, len(ds))
    comps = np.asarray(ds.compositions)
    assert set(comps[s.test]) == {"SA6AM5", "SA6AM4"}  # 62 and 58 atoms
    names = np.asarray([d["name"] for d in ds.info])
    assert not set(names[s.train]) & set(names[s.valid])
    frac = len(s.valid) / (len(s.train) + len(s.valid))
    assert 0.03 < frac < 0.2, frac
    f = make_split(ds, test_compositions=["SA6AM5"])
    assert abs(len(f.valid) / (len(ds) - len(f.test)) - 0.1) < 1e-3


def test_save_load_roundtrip(ds, tmp_path):
    s = make_split(ds, test_largest=1, by="trajectory", seed=5)
    path = tmp_path / "sub" / "split.json"
    s.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["split.json"]  # no temporary left behind
    t = Split.load(path)
    for a, b in zip((s.train, s.valid, s.test), (t.train, t.valid, t.test)):
        assert np.array_equal(a, b) and b.dtype == np.int64
    assert (t.seed, t.rule, t.n_structures) == (s.seed, s.rule, s.n_structures)
    assert Split.from_dict(s.to_dict()).to_dict() == s.to_dict()
    assert json.loads(path.read_text())["format"] == "painnjax-split"
    s.save(path)  # overwrite in place
    t.check(ds)
    with pytest.raises(InputError, match="made for"):
        t.check(ds.subset(np.arange(10)))


def test_split_errors(ds, tmp_path):
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(InputError, match=r"valid_fraction must be in \[0, 1\)"):
            make_split(ds, valid_fraction=bad)
    with pytest.raises(InputError, match=r"SA9AM9 not in the dataset; present: SA1AM0, SA1AM1"):
        make_split(ds, test_compositions=["SA9AM9"])
    all_comps = sorted(set(ds.compositions))
    with pytest.raises(InputError, match="nothing left to train on"):
        make_split(ds, test_compositions=all_comps)
    with pytest.raises(InputError, match="nothing left to train on"):
        make_split(synthetic({"a": (1, 1, 1)}), valid_fraction=0.5)
    with pytest.raises(InputError, match="only 7 compositions"):
        make_split(ds, test_largest=8)
    with pytest.raises(InputError, match="by must be"):
        make_split(ds, by="composition")
    # files
    with pytest.raises(InputError, match="split file not found"):
        Split.load(tmp_path / "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(InputError, match="garbage.json: not a readable split file"):
        Split.load(garbage)
    overlap = tmp_path / "overlap.json"
    overlap.write_text(json.dumps({"train": [0, 1], "valid": [1], "test": [], "seed": 0, "rule": "x"}))
    with pytest.raises(InputError, match="structure 1 is in both train and valid"):
        Split.load(overlap)
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"train": [0, 1], "seed": 0}))
    with pytest.raises(InputError, match="missing field"):
        Split.load(incomplete)


def test_an_extended_split_keeps_the_old_parts_and_splits_the_added_frames():
    """Frames appended after an earlier run's data: the old structures keep their parts, the
    added ones are split anew, and added frames of a held-out composition stay in the test set."""
    from painnjax.data.splits import extend_split

    old_data = synthetic({"a_1sa1am": (1, 1, 30), "a_2sa2am": (2, 2, 40), "a_4sa4am": (4, 4, 20)})
    old = make_split(old_data, valid_fraction=0.2, seed=3, test_compositions=["SA4AM4"])
    grown = synthetic(
        {"a_1sa1am": (1, 1, 30), "a_2sa2am": (2, 2, 40), "a_4sa4am": (4, 4, 20), "c": (3, 3, 50), "d": (4, 4, 10)}
    )
    new = extend_split(old, grown, valid_fraction=0.2, seed=3)
    n_old = len(old_data)
    for part in ("train", "valid", "test"):
        kept = getattr(new, part)[getattr(new, part) < n_old]
        np.testing.assert_array_equal(kept, getattr(old, part))
    added = np.arange(n_old, len(grown))
    comps = np.asarray(grown.compositions, dtype=object)
    np.testing.assert_array_equal(np.sort(new.test[new.test >= n_old]), added[comps[added] == "SA4AM4"])
    assert len(new.valid[new.valid >= n_old]) == 10  # 0.2 of the 50 SA3AM3 frames
    assert new.n_structures == len(grown) and "added" in new.rule
    assert sorted(np.concatenate([new.train, new.valid, new.test]).tolist()) == list(range(len(grown)))
    assert extend_split(old, old_data, valid_fraction=0.2, seed=3) is old
    with pytest.raises(InputError, match="more than the"):
        extend_split(new, old_data, valid_fraction=0.2, seed=3)
