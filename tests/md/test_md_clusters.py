"""Cluster builders: bundled and published starting structures, clusters packed from molecule templates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from md.clusters import build_cluster, molecule, molecules, rmsd, starting_structure
from md.dynamics.safety import fragments
from painnjax import InputError
from painnjax.data.composition import molecule_counts


@pytest.mark.parametrize("n_sa, n_am, n_w", [(1, 1, 0), (3, 2, 0), (4, 4, 0), (2, 3, 1)])
def test_build_cluster_is_one_compact_cluster_of_whole_molecules(n_sa, n_am, n_w):
    atoms = build_cluster(n_sa, n_am, n_w, seed=3)
    assert molecule_counts(atoms.numbers) == {"SA": n_sa, "AM": n_am, "W": n_w}
    mols = molecules(atoms)
    assert len(mols) == n_sa + n_am + n_w
    # molecules are the templates, rigidly placed: same internal distances
    for m in mols:
        name = {7: "SA", 4: "AM", 3: "W"}[len(m)]
        assert rmsd(atoms.positions[m], molecule(name).positions) < 1e-8
    # touching but not overlapping: closest atoms of different molecules at about the contact distance
    closest = min(
        cdist(atoms.positions[a], atoms.positions[b]).min() for i, a in enumerate(mols) for b in mols[i + 1 :]
    )
    assert 1.7 < closest <= 1.8 + 1e-9
    assert len(fragments(atoms.positions, 3.0)) == 1
    # deterministic per seed, different between seeds
    assert np.array_equal(build_cluster(n_sa, n_am, n_w, seed=3).positions, atoms.positions)
    assert not np.allclose(build_cluster(n_sa, n_am, n_w, seed=4).positions, atoms.positions)


def test_starting_structures(shared_data):
    atoms = starting_structure(7, 7)
    assert len(atoms) == 77 and atoms.info["source"] == "SA7AM7"
    assert molecule_counts(atoms.numbers) == {"SA": 7, "AM": 7, "W": 0}
    assert len(molecules(atoms)) == 14
    other = starting_structure(6, 4, starts_dir=shared_data / "starts")
    assert molecule_counts(other.numbers) == {"SA": 6, "AM": 4, "W": 0}
    assert other.info["source"].endswith("k24_6sa4am.xyz")
    with pytest.raises(InputError, match="no starting structure for SA6AM4: bundled are SA1AM1"):
        starting_structure(6, 4)


def test_bad_builder_input():
    with pytest.raises(InputError, match="n_sa must be an integer >= 0"):
        build_cluster(-1, 2)
    with pytest.raises(InputError, match="at least one molecule"):
        build_cluster(0, 0)
    with pytest.raises(InputError, match="unknown molecule 'XX'"):
        molecule("XX")
