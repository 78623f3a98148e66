"""KRR and k-NN: predictions equal to qmllib + Cholesky by hand and to scikit-learn's k-NN; MLKR as metric-learn's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qmllib")
pytest.importorskip("sklearn")
pytest.importorskip("metric_learn")


from painnjax.kernels.config import KernelModelConfig  # noqa: E402
from painnjax.kernels.knn import fit_knn, predict_knn  # noqa: E402
from painnjax.kernels.krr import fit_krr, predict_krr  # noqa: E402
from painnjax.kernels.representation import FCHL19Config, fchl19, global_vectors  # noqa: E402
from painnjax.kernels.targets import monomer_sum  # noqa: E402
from painnjax.kernels.workflow import fit_kernel_model  # noqa: E402

SIGMA, LAMBDA = 2.0, 1e-8


@pytest.fixture(scope="module")
def split(saw_dataset):
    """30 training and 13 test structures with GFN1 binding energies (eV) as targets."""
    ds = saw_dataset
    mono = {"SA": -638.3180961544401, "W": -156.97636160}  # any fixed numbers: the test compares models
    y = ds.energy - monomer_sum(ds, mono)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ds))
    tr, te = idx[:30], idx[30:]
    r = fchl19(ds.numbers, ds.positions, FCHL19Config(), [1, 8, 16])
    return r.subset(tr), y[tr], r.subset(te), y[te]


def test_krr_is_qmllib_kernel_and_cholesky_by_hand(split):
    from qmllib.kernels import get_local_kernel, get_local_symmetric_kernel
    from scipy.linalg import cho_factor, cho_solve

    rt, yt, rs, ys = split
    K = get_local_symmetric_kernel(rt.X, rt.charges(), SIGMA)
    K[np.diag_indices_from(K)] += LAMBDA
    alpha = cho_solve(cho_factor(K), yt)
    ref = get_local_kernel(rt.X, rs.X, rt.charges(), rs.charges(), SIGMA) @ alpha  # (n_test, n_train) @ α
    arrays = fit_krr(rt, yt, SIGMA, LAMBDA)
    pred = predict_krr(arrays, rs, SIGMA)
    np.testing.assert_allclose(pred, ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
    # and it learned something: better than predicting the training mean
    assert np.abs(pred - ys).mean() < np.abs(yt.mean() - ys).mean()


@pytest.mark.parametrize("weights", ["distance", "uniform"])
def test_knn_euclidean_is_sklearns(split, weights):
    from sklearn.neighbors import KNeighborsRegressor

    rt, yt, rs, _ = split
    cfg = KernelModelConfig(kind="knn", metric="euclidean", k=5, weights=weights)
    pred, spread = predict_knn(fit_knn(rt, yt, cfg), rs, cfg)
    Gt, Gs = global_vectors(rt), global_vectors(rs)
    ref = KNeighborsRegressor(n_neighbors=5, weights=weights).fit(Gt, yt)
    np.testing.assert_allclose(pred, ref.predict(Gs), rtol=1e-12)
    _, idx = ref.kneighbors(Gs)
    np.testing.assert_allclose(spread, yt[idx].std(axis=1), rtol=1e-12)
    # a training structure is its own nearest neighbour at distance 0: its target comes back
    if weights == "distance":
        np.testing.assert_allclose(predict_knn(fit_knn(rt, yt, cfg), rt, cfg)[0], yt, rtol=1e-12)


@pytest.fixture
def metric_learn_mlkr(monkeypatch):
    """metric-learn's MLKR, its input checks made to run with scikit-learn >= 1.8 (force_all_finite renamed)."""
    import metric_learn._util as util
    from metric_learn import MLKR

    for name in ("check_X_y", "check_array"):
        original = getattr(util, name)

        def renamed(*args, force_all_finite=True, _original=original, **kwargs):
            return _original(*args, ensure_all_finite=force_all_finite, **kwargs)

        monkeypatch.setattr(util, name, renamed)
    return MLKR


def test_mlkr_loss_and_gradient_are_metric_learns(split, metric_learn_mlkr):
    import jax

    from painnjax.kernels.mlkr import _value_and_grad

    rt, yt, _, _ = split
    G = global_vectors(rt)
    G = G / G.std()  # a scale at which the softmax is not one-hot
    A = np.random.default_rng(1).normal(size=(4, G.shape[1])) * 0.3
    ref = metric_learn_mlkr()
    ref.n_iter_, ref.verbose = 0, False
    cost, grad = ref._loss(A.ravel(), G, yt)
    with jax.enable_x64(True):
        value, g = _value_and_grad(A, G, yt)
    np.testing.assert_allclose(float(value), cost, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g).ravel(), grad, rtol=1e-8, atol=1e-10 * np.abs(grad).max())


def test_knn_mlkr_is_metric_learns(split, metric_learn_mlkr):
    from sklearn.neighbors import KNeighborsRegressor

    rt, yt, rs, _ = split
    cfg = KernelModelConfig(kind="knn", metric="mlkr", k=4, mlkr_components=5, mlkr_max_iter=20)
    arrays = fit_knn(rt, yt, cfg, seed=3)
    Gt, Gs = global_vectors(rt), global_vectors(rs)
    mlkr = metric_learn_mlkr(n_components=5, max_iter=20, random_state=3).fit(Gt, yt)
    # the same L-BFGS-B path: equal up to the rounding of the two gradients, amplified over 20 steps
    scale = np.abs(mlkr.components_).max()
    np.testing.assert_allclose(arrays["components"], mlkr.components_, rtol=1e-5, atol=1e-6 * scale)
    ref = KNeighborsRegressor(n_neighbors=4, weights="distance").fit(mlkr.transform(Gt), yt)
    np.testing.assert_allclose(predict_knn(arrays, rs, cfg)[0], ref.predict(mlkr.transform(Gs)), rtol=1e-6)


def test_knn_kernel_distance_is_induced_by_qmllibs_kernel(split):
    from qmllib.kernels import get_local_kernel, get_local_symmetric_kernel

    rt, yt, rs, _ = split
    cfg = KernelModelConfig(kind="knn", metric="kernel", k=3, weights="distance", sigma=SIGMA)
    pred, _ = predict_knn(fit_knn(rt, yt, cfg), rs, cfg)
    Kst = get_local_kernel(rt.X, rs.X, rt.charges(), rs.charges(), SIGMA)  # (n_test, n_train)
    Ktt = np.diag(get_local_symmetric_kernel(rt.X, rt.charges(), SIGMA))
    Kss = np.diag(get_local_symmetric_kernel(rs.X, rs.charges(), SIGMA))
    d = np.sqrt(np.maximum(Kss[:, None] + Ktt[None] - 2 * Kst, 0))
    idx = np.argsort(d, axis=1)[:, :3]
    w = 1 / np.take_along_axis(d, idx, 1)
    np.testing.assert_allclose(pred, (w * yt[idx]).sum(1) / w.sum(1), rtol=1e-9)


def test_model_fills_in_its_elements(saw_dataset):
    model, timings = fit_kernel_model(saw_dataset.subset(np.arange(5)), KernelModelConfig(kind="krr"))
    assert model.config.elements == tuple(saw_dataset.subset(np.arange(5)).elements)
    assert set(timings) == {"representation_s", "fit_s"}
