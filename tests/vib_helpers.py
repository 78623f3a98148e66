"""Helpers of the harmonic-analysis and spectrum tests: one tiny random PaiNN for H and O per session.

``Model.init`` costs seconds on a small CPU; the model is built once and saved into each
test's own folder.
"""

from __future__ import annotations

import functools

from ase import Atoms


@functools.lru_cache(maxsize=1)
def tiny_model():
    import painnjax

    return painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 8])


def water() -> Atoms:
    return Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])


def tiny_model_file(folder):
    """The tiny model saved as ``folder/tiny.painn`` (its path)."""
    from painnjax.io.modelfile import save_model

    return save_model(tiny_model(), folder / "tiny.painn")
