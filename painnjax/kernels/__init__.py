"""Kernel models of a cluster's binding energy: KRR with FCHL19 and k-NN with a learned metric.

The reference studies' baselines (PaiNN study: KRR on the local FCHL19 kernel; arXiv 2509.11728:
k-NN with an MLKR-learned metric), direct or Δ-learned, as painnjax model kinds: ``[model] kind
= "krr"`` or ``"knn"`` in a ``painnjax train --config`` file. One job per module:
:mod:`.representation` (FCHL19 via qmllib, padded), :mod:`.fchl_jax` (the local kernel in JAX),
:mod:`.krr` and :mod:`.knn` (the models), :mod:`.targets` (binding and Δ targets),
:mod:`.files` (checksummed files, no pickle), :mod:`.workflow` (train from a config, evaluate).
See docs/kernels.md.
"""
