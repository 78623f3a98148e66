"""FCHL19 and the local kernel: equal to qmllib's (float64, relative 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

qmllib = pytest.importorskip("qmllib")


from painnjax.kernels.fchl_jax import local_kernel, self_kernel  # noqa: E402
from painnjax.kernels.representation import FCHL19Config, fchl19, global_vectors  # noqa: E402

ELEMENTS = [1, 8, 16]


@pytest.fixture(scope="module")
def reps(saw_dataset):
    ds = saw_dataset.subset(np.arange(0, len(saw_dataset), 2))  # 21 structures, 3-52 atoms
    return ds, fchl19(ds.numbers, ds.positions, FCHL19Config(), ELEMENTS)


def test_fchl19_is_qmllibs_padded(reps):
    from qmllib.representations import generate_fchl19

    ds, r = reps
    A = max(len(z) for z in ds.numbers)
    assert r.X.shape[:2] == (len(ds), A)
    for i in (0, 5, len(ds) - 1):
        n = len(ds.numbers[i])
        ref = generate_fchl19(ds.numbers[i], ds.positions[i], elements=ELEMENTS)
        np.testing.assert_array_equal(r.X[i, :n], ref)
        assert not r.X[i, n:].any() and not r.Z[i, n:].any()
        np.testing.assert_array_equal(r.Z[i, :n], ds.numbers[i])
    # the per-element sum adds up to the plain sum
    G, Ge = global_vectors(r, "sum"), global_vectors(r, "element_sum")
    np.testing.assert_allclose(Ge.reshape(len(ds), len(ELEMENTS), -1).sum(axis=1), G, rtol=1e-12)


@pytest.mark.parametrize("sigma", [0.7, 3.0])
def test_local_kernel_is_qmllibs(reps, sigma):
    from qmllib.kernels import get_local_kernel, get_local_symmetric_kernel

    _, r = reps
    Q = r.charges()
    K = local_kernel(r, r, sigma)
    ref = get_local_symmetric_kernel(r.X, Q, sigma)
    np.testing.assert_allclose(K, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    a, b = r.subset(np.arange(0, 8)), r.subset(np.arange(8, len(r)))
    cross = local_kernel(a, b, sigma)  # (8, S-8); qmllib's get_local_kernel(X1, X2) is (len X2, len X1)
    ref_cross = get_local_kernel(a.X, b.X, a.charges(), b.charges(), sigma)
    np.testing.assert_allclose(cross, ref_cross.T, rtol=1e-10, atol=1e-12 * np.abs(ref_cross).max())
    np.testing.assert_allclose(self_kernel(r, sigma), np.diag(ref), rtol=1e-10)
