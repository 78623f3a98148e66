"""Flax PaiNN energy model with SchNetPack's equations, one module per concept.

Shapes: N atom slots (padded ones masked), P pair slots, F features, T interaction layers,
K radial basis functions. Scalars ``q`` are (N, F); vectors ``mu`` are (N, 3, F).

Variables of the full model ``PaiNN``:
  ``params``  -- trained weights (what the optimiser sees);
  ``constants`` -- fixed, not trained: ``scale`` and ``shift`` (per atom) of the readout and
                 ``atomref`` (max_z,) element energies, so that
                 ``E = scale * sum_i y_i + sum_i (shift + atomref[Z_i])`` over real atoms; and
                 ``representation/rbf_centers``, ``rbf_widths`` (K,) of the radial basis.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from painnjax.nn.config import PaiNNConfig
from painnjax.nn.neighbors import HalfPairs, PairMatrix, Pairs, pair_matrix
from painnjax.nn.radial import cosine_cutoff, gaussian_centers_widths, gaussian_rbf, safe_pair_vectors

# SchNetPack's initialisation: Xavier-uniform weights, zero biases, N(0, 1) embeddings.
_dense_init = dict(kernel_init=nn.initializers.xavier_uniform(), bias_init=nn.initializers.zeros)
# Full float32 matmuls: GPUs would otherwise round to TF32 (~1e-3), which breaks weight parity
# with SchNetPack and energy conservation in MD. These matmuls are small; the cost is minor.
PRECISION = jax.lax.Precision.HIGHEST


def _dense(features: int, name: str, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, name=name, precision=PRECISION, **_dense_init)


def _neighbor_values(x, nbrs):
    """Values of each pair's sending atom j: (N, ...) -> (P, ...) or (1, N, ...) for a matrix."""
    return x[None] if isinstance(nbrs, PairMatrix) else x[nbrs.idx_j]


def _sum_over_neighbors(m, nbrs, n_atoms: int):
    """Sum pair messages onto the receiving atom i: (P, ...) or (N, N, ...) -> (N, ...)."""
    if isinstance(nbrs, PairMatrix):
        return jnp.sum(m, axis=1)
    return jax.ops.segment_sum(m, nbrs.idx_i, num_segments=n_atoms)


def pair_geometry(R, nbrs):
    """``r_ij = R_j - R_i`` as distances and unit vectors, with the pair mask.

    Shapes: (P,), (P, 3), (P,) for a :class:`Pairs`; (N, N), (N, N, 3), (N, N) for a
    :class:`PairMatrix`.
    """
    if isinstance(nbrs, PairMatrix):
        n = R.shape[0]
        r_ij = (R[None, :, :] - R[:, None, :]).reshape(n * n, 3)
        d, u = safe_pair_vectors(r_ij, nbrs.mask.reshape(-1))
        return d.reshape(n, n), u.reshape(n, n, 3), nbrs.mask
    r_ij = R[nbrs.idx_j] - R[nbrs.idx_i]
    d, u = safe_pair_vectors(r_ij, nbrs.mask)
    return d, u, nbrs.mask


def _pair_messages(w_q, w_r, w_mu, x_q, x_r, y, dir_ij, nbrs, n_atoms: int):
    """Sum over neighbours j of the messages to atom i (PaiNN's eqs. 7-8):
    ``dq_i = sum_j W_q,ij x_q,j`` and ``dmu_i = sum_j W_r,ij x_r,j dir_ij + W_mu,ij y_j``
    with ``y = x_mu * mu`` per atom (None when mu = 0). Shapes (N, F) and (N, 3, F).

    A :class:`HalfPairs` list holds each pair once, with one filter for both directions: the
    messages j -> i and i -> j (``dir_ji = -dir_ij``) are made from the same (H, F) filters and
    summed onto both atoms, with no mirrored (2H, ...) copies of filters, directions or indices.
    """
    if isinstance(nbrs, HalfPairs):
        one_way = Pairs(nbrs.idx_i, nbrs.idx_j, nbrs.mask)
        back = Pairs(nbrs.idx_j, nbrs.idx_i, nbrs.mask)
        dq, dmu = _pair_messages(w_q, w_r, w_mu, x_q, x_r, y, dir_ij, one_way, n_atoms)
        dq_back, dmu_back = _pair_messages(w_q, w_r, w_mu, x_q, x_r, y, -dir_ij, back, n_atoms)
        return dq + dq_back, dmu + dmu_back
    dq = w_q * _neighbor_values(x_q, nbrs)  # (P, F)
    dmu = (w_r * _neighbor_values(x_r, nbrs))[..., None, :] * dir_ij[..., :, None]  # (P, 3, F)
    if y is not None:
        dmu = dmu + w_mu[..., None, :] * _neighbor_values(y, nbrs)  # (P, 3, F)
    return _sum_over_neighbors(dq, nbrs, n_atoms), _sum_over_neighbors(dmu, nbrs, n_atoms)


# Gradients recompute the (P, 3, F) per-pair vector messages instead of storing them: the
# backward pass is bound by memory traffic on those tensors, and recomputing is cheaper
# (energy+forces of SA7AM7 ~20 % faster on CPU). Same numbers, to rounding.
_pair_messages_remat = jax.checkpoint(_pair_messages, static_argnums=(8,))


class PaiNNInteraction(nn.Module):
    """Message block: neighbours' scalars and vectors, filtered by distance, summed per atom."""

    features: int

    @nn.compact
    def __call__(self, q, mu, w_ij, dir_ij, nbrs, mu_is_zero: bool = False):
        F = self.features
        n = q.shape[0]
        x = nn.silu(_dense(F, "context_0")(q))  # (N, F)
        x_q, x_r, x_mu = jnp.split(_dense(3 * F, "context_1")(x), 3, axis=-1)  # 3 x (N, F)
        w_q, w_r, w_mu = w_ij  # 3 x (P, F); zero on masked pairs
        # In the first layer mu = 0 and the W_mu term is exactly zero; otherwise the product
        # x_mu * mu is made per atom, not per pair.
        y = None if mu_is_zero else x_mu[:, None, :] * mu  # (N, 3, F)
        messages = _pair_messages if isinstance(nbrs, PairMatrix) else _pair_messages_remat
        dq, dmu = messages(w_q, w_r, w_mu, x_q, x_r, y, dir_ij, nbrs, n)
        return q + dq, mu + dmu


class PaiNNMixing(nn.Module):
    """Update block: mixes each atom's scalar and vector channels."""

    features: int
    epsilon: float = 1e-8

    @nn.compact
    def __call__(self, q, mu):
        F = self.features
        mu_mix = _dense(2 * F, "mu_channel_mix", use_bias=False)(mu)  # (N, 3, 2F)
        mu_v, mu_w = jnp.split(mu_mix, 2, axis=-1)  # 2 x (N, 3, F)
        mu_vn = jnp.sqrt(jnp.sum(mu_v**2, axis=1) + self.epsilon)  # (N, F)
        x = nn.silu(_dense(F, "context_0")(jnp.concatenate([q, mu_vn], axis=-1)))  # (N, F)
        x = _dense(3 * F, "context_1")(x)  # (N, 3F)
        dq, dmu, dqmu = jnp.split(x, 3, axis=-1)
        q = q + dq + dqmu * jnp.sum(mu_v * mu_w, axis=1)
        mu = mu + dmu[:, None, :] * mu_w
        return q, mu


class PaiNNRepresentation(nn.Module):
    """Embedding + T (interaction, mixing) blocks -> scalar features (N, F).

    ``fused_filters``: each layer's three filter blocks from one (P, K+1) x (K+1, 3F) GEMM
    instead of three (P, K+1) x (K+1, F) ones. The same function and weights; on this CPU the
    fused GEMM made a training step (double backward) ~30 % faster and energy+forces ~40 %
    slower, so training uses it and MD does not.
    """

    config: PaiNNConfig
    fused_filters: bool = False

    @nn.compact
    def __call__(self, Z, R, nbrs):
        c = self.config
        F, T = c.n_atom_basis, c.n_interactions
        d_ij, dir_ij, pair_mask = pair_geometry(R, nbrs)  # (P,), (P, 3), (P,)
        fcut = jnp.where(pair_mask, cosine_cutoff(d_ij, c.cutoff), 0.0)  # (P,)
        centers = self.variable("constants", "rbf_centers", lambda: gaussian_centers_widths(c.n_rbf, c.cutoff)[0])
        widths = self.variable("constants", "rbf_widths", lambda: gaussian_centers_widths(c.n_rbf, c.cutoff)[1])
        phi = gaussian_rbf(d_ij, centers.value.astype(d_ij.dtype), widths.value.astype(d_ij.dtype))  # (P, K)
        # filter_t = (phi @ W_t + b_t) * fcut = [phi * fcut, fcut] @ [W_t; b_t]: one GEMM per
        # layer, made where it is used (cache-friendly), no (P, T*3F) array and no extra pass.
        basis = jnp.concatenate([phi * fcut[..., None], fcut[..., None]], axis=-1)  # (P, K+1)
        n_filters = 1 if c.shared_filters else T
        kernel = self.param("filter_net_kernel", nn.initializers.xavier_uniform(), (c.n_rbf, n_filters * 3 * F))
        bias = self.param("filter_net_bias", nn.initializers.zeros, (n_filters * 3 * F,))
        w_all = jnp.concatenate([kernel, bias[None, :]], axis=0).astype(basis.dtype)  # (K+1, T*3F)

        def filters(t):  # 3 x (P, F): the q, r and mu blocks of layer t's filter
            o = (0 if c.shared_filters else t) * 3 * F
            # symmetric in i, j: with a HalfPairs list the same filter serves both directions
            if self.fused_filters:
                return tuple(jnp.split(jnp.matmul(basis, w_all[:, o : o + 3 * F], precision=PRECISION), 3, axis=-1))
            return tuple(
                jnp.matmul(basis, w_all[:, o + k * F : o + (k + 1) * F], precision=PRECISION) for k in range(3)
            )

        q = nn.Embed(c.max_z, F, embedding_init=nn.initializers.normal(1.0), name="embedding")(Z)  # (N, F)
        q = q.astype(R.dtype)
        mu = jnp.zeros((Z.shape[0], 3, F), dtype=q.dtype)  # (N, 3, F)
        n_blocks = 1 if c.shared_interactions else T
        interactions = [PaiNNInteraction(F, name=f"interactions_{t}") for t in range(n_blocks)]
        mixings = [PaiNNMixing(F, c.epsilon, name=f"mixing_{t}") for t in range(n_blocks)]
        for t in range(T):
            b = 0 if c.shared_interactions else t
            q, mu = interactions[b](q, mu, filters(t), dir_ij, nbrs, mu_is_zero=t == 0)
            q, mu = mixings[b](q, mu)
        return q


class AtomwiseReadout(nn.Module):
    """Per-atom MLP F -> F/2 -> 1 with SiLU (SchNetPack's pyramidal ``Atomwise``)."""

    sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, q):
        for k, size in enumerate(self.sizes):
            q = _dense(size, f"layers_{k}")(q)
            if k < len(self.sizes) - 1:
                q = nn.silu(q)
        return q[:, 0]  # (N,)


class PaiNN(nn.Module):
    """PaiNN energy model: ``apply(variables, Z, R, nbrs, atom_mask)`` -> energy (scalar).

    ``Z`` (N,) int atomic numbers, ``R`` (N, 3) Å, ``nbrs`` a :class:`~painnjax.nn.neighbors.Pairs`
    or :class:`~painnjax.nn.neighbors.HalfPairs` list or a :class:`~painnjax.nn.neighbors.PairMatrix`,
    ``atom_mask`` (N,) bool. Padded atoms and
    pairs contribute exactly nothing.
    Use ``per_atom=True`` for atomic energies (N,) instead of their sum.
    ``fused_filters``: see :class:`PaiNNRepresentation` (speed only; training sets it).
    """

    config: PaiNNConfig
    fused_filters: bool = False

    @nn.compact
    def __call__(self, Z, R, nbrs, atom_mask, per_atom: bool = False):
        c = self.config
        q = PaiNNRepresentation(c, self.fused_filters, name="representation")(Z, R, nbrs)
        y = AtomwiseReadout(c.readout_sizes, name="readout")(q)  # (N,)
        scale = self.variable("constants", "scale", lambda: jnp.ones((), jnp.float32)).value
        shift = self.variable("constants", "shift", lambda: jnp.zeros((), jnp.float32)).value
        atomref = self.variable("constants", "atomref", lambda: jnp.zeros((c.max_z,), jnp.float32)).value
        e_i = scale.astype(y.dtype) * y + shift.astype(y.dtype) + atomref.astype(y.dtype)[Z]
        e_i = jnp.where(atom_mask, e_i, 0.0)
        return e_i if per_atom else jnp.sum(e_i)


def init_variables(config: PaiNNConfig, seed: int = 0, dtype=jnp.float32):
    """Fresh model variables (``params`` + ``constants``) for ``config``, as SchNetPack initialises."""
    Z = jnp.array([1, 8], jnp.int32)
    R = jnp.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    mask = jnp.ones(2, bool)
    variables = PaiNN(config).init(jax.random.PRNGKey(seed), Z, R, pair_matrix(mask), mask)
    return jax.tree_util.tree_map(lambda x: x.astype(dtype), variables)


def count_parameters(params) -> int:
    """Number of trained parameters (the ``params`` collection only)."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
