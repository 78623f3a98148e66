"""Committees: spreads against hand computation, query by committee on a pool with planted
high-spread structures whose answer is known by construction, the evaluate/select commands,
and clear errors. Small models, one cluster size (one compile per committee config)."""

from __future__ import annotations

import json

import ase.io
import jax
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import SMALL, perturbed_model

from painnjax import InputError, Model, PaiNNConfig, save_model
from painnjax.cli import main
from painnjax.data.dataset import Dataset, read_dataset
from painnjax.training.committee import (
    CommitteeStats,
    Selection,
    committee_predict,
    committee_report,
    committee_stats,
    rank_by_spread,
    read_pool,
    select_by_spread,
    write_selection,
)
from painnjax.training.evaluate import error_report, predict
from painnjax.units import EV_TO_KCAL_PER_MOL

ELEMENTS_F = [1, 7, 8, 9, 16]  # H, N, O, F, S: fluorine appears only in the planted structures
PLANTED = {2: 1, 5: 3, 6: 2}  # pool index -> number of H atoms replaced by F
N_POOL = 8


def _embedding(variables):
    return variables["params"]["representation"]["embedding"]["embedding"]


def _variant(model: Model, atomref_f: float = 0.0, embed_f=None) -> Model:
    """A copy of ``model`` that differs only in what fluorine does: its atom reference energy
    and/or its embedding row. Structures without F get bit-identical predictions."""
    v = jax.tree_util.tree_map(np.array, model.variables)  # deep copy, writable
    v["constants"]["atomref"][9] += atomref_f
    if embed_f is not None:
        _embedding(v)[9] = embed_f
    return Model(model.config, v, dict(model.metadata))


@pytest.fixture(scope="module")
def base():
    return perturbed_model(SMALL, seed=0, elements=ELEMENTS_F)


@pytest.fixture(scope="module")
def pool(sa1am1):
    """Eight rattled SA1AM1 (11 atoms: one size: one compile), unlabeled; PLANTED ones carry F atoms."""
    rng = np.random.default_rng(7)
    hydrogens = np.nonzero(sa1am1.numbers == 1)[0]
    numbers, positions, info = [], [], []
    for k in range(N_POOL):
        Z = sa1am1.numbers.astype(np.int32).copy()
        Z[hydrogens[: PLANTED.get(k, 0)]] = 9
        numbers.append(Z)
        positions.append(sa1am1.positions + rng.normal(0.0, 0.05, sa1am1.positions.shape))
        info.append({"source": "pool.extxyz", "frame": k, "composition": "x"})
    return Dataset(numbers, positions, np.full(N_POOL, np.nan), None, info, reference={"kind": "unlabeled"})


@pytest.fixture(scope="module")
def force_committee(base):
    """Two members that differ only in the embedding row of F: spread exactly where F is."""
    rng = np.random.default_rng(3)
    return [base, _variant(base, embed_f=rng.normal(0.0, 1.0, _embedding(base.variables).shape[1]))]


def test_stats_equal_hand_computation():
    rng = np.random.default_rng(0)
    K, sizes = 3, [4, 7, 1]
    E = rng.normal(size=(K, len(sizes)))
    F = [[rng.normal(size=(n, 3)) for n in sizes] for _ in range(K)]
    s = committee_stats(E, F)
    assert s.n_models == K
    for j, n in enumerate(sizes):
        e_mean = sum(E[k, j] for k in range(K)) / K
        assert s.mean_energy[j] == pytest.approx(e_mean, rel=1e-12)
        assert s.energy_std[j] == pytest.approx(np.sqrt(sum((E[k, j] - e_mean) ** 2 for k in range(K)) / K), rel=1e-12)
        f_mean = sum(F[k][j] for k in range(K)) / K
        np.testing.assert_allclose(s.mean_forces[j], f_mean, rtol=1e-12)
        # per atom: sqrt(mean over models of |F_ki - mean_i|^2), the norm of the component stds
        per_atom = [np.sqrt(sum(np.sum((F[k][j][i] - f_mean[i]) ** 2) for k in range(K)) / K) for i in range(n)]
        np.testing.assert_allclose(s.atom_force_spread[j], per_atom, rtol=1e-12)
        assert s.force_spread[j] == pytest.approx(np.mean(per_atom), rel=1e-12)
        assert s.force_spread_max[j] == pytest.approx(np.max(per_atom), rel=1e-12)
    np.testing.assert_allclose(s.energy_std_kcal_mol, s.energy_std * EV_TO_KCAL_PER_MOL)
    np.testing.assert_allclose(s.force_spread_kcal_mol_A, s.force_spread * EV_TO_KCAL_PER_MOL)
    # Two models: the spread is half their difference.
    two = committee_stats(E[:2], F[:2])
    np.testing.assert_allclose(two.energy_std, np.abs(E[0] - E[1]) / 2, rtol=1e-12)
    np.testing.assert_allclose(two.atom_force_spread[0], np.linalg.norm(F[0][0] - F[1][0], axis=1) / 2, rtol=1e-12)


def test_rank_by_spread_orders_largest_first_and_ties_by_index():
    spread = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 3.0, 1.0])
    assert rank_by_spread(spread, 7).tolist() == [5, 1, 3, 2, 6, 0, 4]
    assert rank_by_spread(spread, 2).tolist() == [5, 1]
    with pytest.raises(InputError, match="structure 2 is NaN"):
        rank_by_spread([1.0, 0.0, np.nan], 1)


def test_energy_spread_is_known_by_construction(base, pool):
    """Members differ only in E_ref(F) by 0, d, 2d: the energy std of a structure with m F
    atoms is d * m * std(0, 1, 2) exactly; forces do not see the reference at all."""
    d = 0.4
    committee = [_variant(base, atomref_f=k * d) for k in range(3)]
    sel = select_by_spread(committee, pool, 3, criterion="energy")
    assert sel.indices.tolist() == sorted(PLANTED, key=lambda k: -PLANTED[k])  # 5 (3 F), 6 (2 F), 2 (1 F)
    want = np.array([d * PLANTED.get(k, 0) * np.std([0.0, 1.0, 2.0]) for k in range(N_POOL)])
    np.testing.assert_allclose(sel.stats.energy_std, want, rtol=0, atol=2e-5)
    np.testing.assert_allclose(sel.spreads, want[sel.indices], rtol=0, atol=2e-5)
    assert np.max(sel.stats.force_spread_max) < 1e-6


def test_committee_selection_picks_the_planted_high_spread_structures(force_committee, pool):
    energies, forces = committee_predict(force_committee, pool)
    assert energies.shape == (2, N_POOL) and len(forces) == 2 and forces[0][0].shape == (pool.n_atoms[0], 3)
    for k, member in enumerate(force_committee):  # each row is that model's own prediction
        E, F = predict(member, pool)
        np.testing.assert_array_equal(energies[k], E)
        np.testing.assert_array_equal(forces[k][3], F[3])
    stats = committee_stats(energies, forces)
    planted = np.isin(np.arange(N_POOL), list(PLANTED))
    assert np.all(stats.force_spread[planted] > 1e-3)
    assert np.all(stats.force_spread[~planted] < 1e-6)
    for criterion in ("forces", "forces_max", "energy"):
        sel = select_by_spread(force_committee, pool, len(PLANTED), criterion=criterion)
        assert sorted(sel.indices.tolist()) == sorted(PLANTED), criterion
        assert np.all(np.diff(sel.spreads) <= 0)
        np.testing.assert_allclose(sel.spreads, stats.spread(criterion)[sel.indices], rtol=1e-6, atol=1e-9)


def test_random_share_follows_the_spread_picks_and_is_seeded(force_committee, pool):
    whole = select_by_spread(force_committee, pool, 4, random_share=0.5, seed=1)
    assert whole.n_random == 2 and [whole.picked_by(r) for r in range(4)] == ["spread", "spread", "random", "random"]
    spread_part = whole.indices[:2].tolist()
    assert set(spread_part) <= set(PLANTED)  # the two largest spreads, as without a random share
    assert spread_part == select_by_spread(force_committee, pool, 2).indices.tolist()
    drawn = whole.indices[2:].tolist()
    assert not set(drawn) & set(spread_part) and len(set(drawn)) == 2  # from the rest, no repeats
    again = select_by_spread(force_committee, pool, 4, random_share=0.5, seed=1)
    assert again.indices.tolist() == whole.indices.tolist()
    draws = {tuple(select_by_spread(force_committee, pool, 4, random_share=0.5, seed=s).indices[2:]) for s in range(6)}
    assert len(draws) > 1  # the seed matters
    allrandom = select_by_spread(force_committee, pool, N_POOL, random_share=1.0)
    assert sorted(allrandom.indices.tolist()) == list(range(N_POOL)) and allrandom.n_random == N_POOL
    for bad in (-0.1, 1.5, True):
        with pytest.raises(InputError, match="random share"):
            select_by_spread(force_committee, pool, 2, random_share=bad)


def test_members_may_differ_in_size_cutoff_and_elements(base, pool):
    other = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=6, cutoff=4.0), seed=2)  # any element
    energies, forces = committee_predict([base, other], pool)
    E, F = predict(other, pool)
    np.testing.assert_array_equal(energies[1], E)
    np.testing.assert_array_equal(forces[1][5], F[5])


def test_a_member_that_lacks_an_element_is_named(base, pool):
    no_f = Model(base.config, base.variables, {**base.metadata, "elements": [1, 7, 8, 16]})
    with pytest.raises(
        InputError,
        match=r"committee member b\.painn lacks an element of a structure: "
        r"pool\.extxyz, frame 2: atom \d+: element F \(Z=9\) is not known",
    ):
        committee_predict([base, no_f], pool, names=["a.painn", "b.painn"])
    with pytest.raises(InputError, match=r"committee member model 1 lacks an element"):
        select_by_spread([base, no_f], pool, 2)


def test_selection_errors(base, pool):
    pair = [base, base]
    with pytest.raises(InputError, match=r"needs at least 2 models, got 1 \(model 0\)"):
        select_by_spread([base], pool, 2)
    with pytest.raises(InputError, match="needs at least 2 models, got 0"):
        select_by_spread([], pool, 2)
    with pytest.raises(InputError, match=r"cannot select 9 structures from a pool of 8 \(pool\.extxyz\)"):
        select_by_spread(pair, pool, 9)
    with pytest.raises(InputError, match="positive integer"):
        select_by_spread(pair, pool, 0)
    with pytest.raises(InputError, match="unknown criterion 'stress'"):
        select_by_spread(pair, pool, 1, criterion="stress")
    with pytest.raises(InputError, match="pool is empty"):
        select_by_spread(pair, pool.subset([]), 1)
    binding = Model(base.config, base.variables, {**base.metadata, "energy_reference": {"kind": "binding"}})
    with pytest.raises(InputError, match="predict different energies"):
        committee_predict([base, binding], pool)


def _write_labeled(path, atoms_list, rng):
    frames = []
    for k, atoms in enumerate(atoms_list):
        a = atoms.copy()
        a.info.update({"name": f"s{k}", "source": f"md{k}"})  # a frame's own 'source' is kept
        a.calc = SinglePointCalculator(a, energy=-5.0 + rng.normal(0, 0.2), forces=rng.normal(0, 0.3, (len(a), 3)))
        frames.append(a)
    ase.io.write(path, frames, format="extxyz")
    return frames


def test_write_selection_keeps_labels_and_provenance(tmp_path, sa1am1):
    rng = np.random.default_rng(1)
    src = tmp_path / "labeled.extxyz"
    frames = _write_labeled(src, [sa1am1] * 3, rng)
    ds = read_pool(src)
    assert ds.reference == {"kind": "total"} and ds.forces is not None
    S = len(ds)
    stats = CommitteeStats(
        2,
        np.zeros(S),
        np.array([0.1, 0.3, 0.2]),
        [np.zeros((11, 3))] * S,
        [np.zeros(11)] * S,
        np.array([1.0, 2.0, 3.0]),
        np.array([4.0, 5.0, 6.0]),
    )
    out = write_selection(
        tmp_path / "sel" / "out.extxyz", ds, Selection(np.array([2, 0]), np.array([3.0, 1.0]), "forces", stats)
    )
    got = ase.io.read(out, index=":")
    assert [a.info["pool_frame"] for a in got] == [2, 0]
    for a, k in zip(got, (2, 0)):
        np.testing.assert_allclose(a.positions, frames[k].positions, atol=1e-7)
        assert a.get_potential_energy() == pytest.approx(frames[k].get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(a.get_forces(), frames[k].get_forces(), atol=1e-7)
        assert a.info["pool_file"] == str(src)
        assert (a.info["name"], a.info["source"]) == (f"s{k}", f"md{k}")
        assert a.info["committee_energy_std_eV"] == pytest.approx(stats.energy_std[k])
        assert a.info["committee_force_spread_eV_A"] == pytest.approx(stats.force_spread[k])
        assert a.info["committee_force_spread_max_eV_A"] == pytest.approx(stats.force_spread_max[k])
    assert [a.info["committee_rank"] for a in got] == [0, 1]
    assert sorted(p.name for p in (tmp_path / "sel").iterdir()) == ["out.extxyz"]  # no temporary left


def test_read_pool_reads_unlabeled_frames_and_refuses_bad_files(tmp_path, sa1am1):
    path = tmp_path / "pool.xyz"
    ase.io.write(path, [sa1am1, sa1am1], format="extxyz")  # positions only
    ds = read_pool(path)
    assert len(ds) == 2 and np.isnan(ds.energy).all() and ds.forces is None
    assert ds.reference == {"kind": "unlabeled"} and ds.info[1]["frame"] == 1 and ds.info[1]["source"] == str(path)
    with pytest.raises(InputError, match="pool.xyz, frame 0: no energy"):  # training data still needs labels
        read_dataset(path)
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.extxyz: empty file"):
        read_pool([path, empty])


def test_evaluate_command_with_a_committee(tmp_path, sa1am1, base):
    rng = np.random.default_rng(5)
    rattled = []
    for _ in range(4):
        a = sa1am1.copy()
        a.positions += rng.normal(0.0, 0.05, a.positions.shape)
        rattled.append(a)
    data = tmp_path / "data.extxyz"
    _write_labeled(data, rattled, rng)
    models = [base, perturbed_model(SMALL, seed=1, elements=ELEMENTS_F)]
    paths = [save_model(m, tmp_path / f"m{k}.painn") for k, m in enumerate(models)]
    out = tmp_path / "committee.json"
    # a model after the data is still a model (the .painn suffix tells)
    assert main(["evaluate", str(paths[0]), str(data), str(paths[1]), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    ds = read_dataset(data)
    preds = [predict(m, ds) for m in models]
    E = np.stack([p[0] for p in preds])
    e_mean = E.mean(axis=0)
    f_mean = [(preds[0][1][j] + preds[1][1][j]) / 2 for j in range(len(ds))]
    de = (e_mean - ds.energy) * EV_TO_KCAL_PER_MOL
    df = np.concatenate([(f - r).ravel() for f, r in zip(f_mean, ds.forces)]) * EV_TO_KCAL_PER_MOL
    assert saved["energy_mae"] == pytest.approx(np.mean(np.abs(de)), rel=1e-6)
    assert saved["energy_rmse"] == pytest.approx(np.sqrt(np.mean(de**2)), rel=1e-6)
    assert saved["forces_mae"] == pytest.approx(np.mean(np.abs(df)), rel=1e-6)
    assert saved["forces_rmse"] == pytest.approx(np.sqrt(np.mean(df**2)), rel=1e-6)
    c = saved["committee"]
    assert c["n_models"] == 2 and c["models"] == [str(p) for p in paths]
    want = np.mean(np.abs(E[0] - E[1]) / 2) * EV_TO_KCAL_PER_MOL
    assert c["mean_energy_std_kcal_mol"] == pytest.approx(want, rel=1e-6)
    spread = [np.mean(np.linalg.norm(preds[0][1][j] - preds[1][1][j], axis=1) / 2) for j in range(len(ds))]
    assert c["mean_force_spread_kcal_mol_A"] == pytest.approx(np.mean(spread) * EV_TO_KCAL_PER_MOL, rel=1e-6)
    assert c["mean_force_spread_kcal_mol_A"] > 0
    for k, m in enumerate(models):
        alone = error_report(m, ds)
        assert c["per_model"][k]["model"] == str(paths[k])
        for key in ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse"):
            assert c["per_model"][k][key] == pytest.approx(alone[key], rel=1e-9), key
    assert (tmp_path / "committee.png").is_file()
    # One model: the old usage and report, unchanged.
    single = tmp_path / "single.json"
    assert main(["evaluate", str(paths[0]), str(data), "--json", str(single), "--plot", str(tmp_path / "s.png")]) == 0
    one = json.loads(single.read_text())
    assert "committee" not in one
    assert one["energy_mae"] == pytest.approx(c["per_model"][0]["energy_mae"], rel=1e-9)
    # Same as the library call.
    report = committee_report(models, ds, names=[str(p) for p in paths])
    assert report["energy_mae"] == pytest.approx(saved["energy_mae"], rel=1e-9)


def test_select_command_writes_the_planted_frames(tmp_path, capsys, force_committee, pool):
    pool_file = tmp_path / "pool.extxyz"
    frames = []
    for k in range(N_POOL):
        a = ase.Atoms(numbers=pool.numbers[k], positions=pool.positions[k])
        a.info["name"] = f"c{k}"
        frames.append(a)
    ase.io.write(pool_file, frames, format="extxyz")
    paths = [save_model(m, tmp_path / f"m{k}.painn") for k, m in enumerate(force_committee)]
    out = tmp_path / "picked.extxyz"
    args = ["select", *map(str, paths), "--pool", str(pool_file), "--n", "3", "--out", str(out)]
    mixed = tmp_path / "mixed.extxyz"
    assert main(args[:-2] + ["--out", str(mixed), "--random-share", "0.34", "--seed", "3"]) == 0
    assert "2 of 8 structures" in capsys.readouterr().out
    assert [a.info["selected_by"] for a in ase.io.read(mixed, index=":")] == ["spread", "spread", "random"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "3 of 8 structures" in printed and f"wrote {out}" in printed
    got = ase.io.read(out, index=":")
    assert sorted(a.info["pool_frame"] for a in got) == sorted(PLANTED)
    spreads = [a.info["committee_force_spread_eV_A"] for a in got]
    assert spreads == sorted(spreads, reverse=True) and min(spreads) > 1e-3
    for a in got:
        k = a.info["pool_frame"]
        assert a.info["name"] == f"c{k}" and a.info["pool_file"] == str(pool_file)
        np.testing.assert_array_equal(a.numbers, pool.numbers[k])
        np.testing.assert_allclose(a.positions, pool.positions[k], atol=1e-7)
        assert a.calc is None  # the pool had no labels; none are made up
    # Bad input: exit status 2 and a message naming the problem.
    assert main(["select", str(paths[0]), "--pool", str(pool_file), "--n", "3", "--out", str(out)]) == 2
    assert "a committee needs at least 2 models, got 1" in capsys.readouterr().err
    assert main(["select", "--pool", str(pool_file), "--n", "3", "--out", str(out)]) == 2
    assert "got 0" in capsys.readouterr().err
    assert main(args[:-4] + ["--n", "9", "--out", str(out)]) == 2
    assert "cannot select 9 structures from a pool of 8" in capsys.readouterr().err
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    assert main(["select", *map(str, paths), "--pool", str(empty), "--n", "1", "--out", str(out)]) == 2
    assert f"{empty}: empty file" in capsys.readouterr().err
    assert main(["evaluate", str(paths[0]), str(paths[1])]) == 2
    assert "no data files given" in capsys.readouterr().err
