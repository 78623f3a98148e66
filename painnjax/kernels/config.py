"""The sections of a kernel model's run config: ``[model]`` (kind and hyperparameters), ``[data]``, ``[train]``.

One style with the PaiNN run config (:mod:`painnjax.config`): frozen dataclasses checked when
built, unknown keys refused, every error naming ``[section] key``. ``[split]`` is PaiNN's
:class:`~painnjax.data.config.SplitConfig`; ``[data]`` is PaiNN's
:class:`~painnjax.data.config.DataConfig` plus the low level's monomers and method for Δ-learning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from painnjax.config import check, from_mapping, integer, is_int, positive
from painnjax.data.config import DataConfig
from painnjax.kernels.representation import GLOBAL_FORMS, FCHL19Config

KINDS = ("krr", "knn")
METRICS = ("mlkr", "kernel", "euclidean")
WEIGHTS = ("distance", "uniform")
S = "model"


@dataclass(frozen=True)
class KernelModelConfig:
    """``[model]`` of a kernel model (``kind = "krr"`` or ``"knn"``); ``[model.fchl19]`` the representation.

    KRR: ``sigma`` (width of the local Gaussian kernel, in FCHL19's units) and ``regularization``
    (λ added to the kernel's diagonal). k-NN: ``k``, ``weights`` ("distance": 1/d, "uniform"),
    ``metric`` ("mlkr": learned Mahalanobis metric on the global vector; "kernel": the distance
    induced by the local kernel of width ``sigma``; "euclidean": on the global vector),
    ``global_representation`` ("sum" or "element_sum"), and MLKR's ``mlkr_components`` (the
    projection's dimension), ``mlkr_max_iter`` and ``mlkr_subsample`` (fit the metric on at most
    this many training structures; 0 = all). ``elements``: atomic numbers the representation
    has channels for (empty: the training data's).
    """

    kind: str = "krr"
    sigma: float = 2.0
    regularization: float = 1e-8
    k: int = 12
    weights: str = "distance"
    metric: str = "mlkr"
    global_representation: str = "sum"
    mlkr_components: int = 50
    mlkr_max_iter: int = 200
    mlkr_subsample: int = 0
    elements: tuple[int, ...] = ()
    fchl19: FCHL19Config = field(default_factory=FCHL19Config)

    def __post_init__(self):
        check(self.kind in KINDS, S, "kind", f"must be one of {', '.join(KINDS)} (or 'painn'), got {self.kind!r}")
        positive(S, "sigma", self.sigma)
        positive(S, "regularization", self.regularization)
        integer(S, "k", self.k, 1)
        check(self.weights in WEIGHTS, S, "weights", f"must be one of {', '.join(WEIGHTS)}, got {self.weights!r}")
        check(self.metric in METRICS, S, "metric", f"must be one of {', '.join(METRICS)}, got {self.metric!r}")
        check(
            self.global_representation in GLOBAL_FORMS,
            S,
            "global_representation",
            f"must be one of {', '.join(GLOBAL_FORMS)}, got {self.global_representation!r}",
        )
        integer(S, "mlkr_components", self.mlkr_components, 1)
        integer(S, "mlkr_max_iter", self.mlkr_max_iter, 1)
        integer(S, "mlkr_subsample", self.mlkr_subsample, 0)
        els = self.elements
        check(
            isinstance(els, (list, tuple)) and all(is_int(z) and 0 < z < 119 for z in els),
            S,
            "elements",
            f"must be a list of atomic numbers, got {els!r}",
        )
        object.__setattr__(self, "elements", tuple(sorted(int(z) for z in els)))
        if isinstance(self.fchl19, Mapping):
            object.__setattr__(self, "fchl19", from_mapping(FCHL19Config, "model.fchl19", self.fchl19))
        check(isinstance(self.fchl19, FCHL19Config), S, "fchl19", f"must be a table, got {self.fchl19!r}")

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["elements"] = list(self.elements)
        return out


@dataclass(frozen=True)
class KernelDataConfig(DataConfig):
    """``[data]``: PaiNN's keys, plus for Δ-learning of binding energies the low level's
    monomer file (``low_monomers``) and its method (``low_method``, with which tblite labels
    structures whose files lack the low level)."""

    low_monomers: str = ""
    low_method: str = "GFN1-xTB"

    def __post_init__(self):
        super().__post_init__()
        check(isinstance(self.low_monomers, str), "data", "low_monomers", f"must be a file, got {self.low_monomers!r}")
        check(isinstance(self.low_method, str), "data", "low_method", f"must be a string, got {self.low_method!r}")
        if self.delta_low_key:
            check(
                bool(self.monomers) == bool(self.low_monomers),
                "data",
                "low_monomers",
                "Δ-learning of binding energies needs the monomers at both levels: set monomers and low_monomers",
            )

    @property
    def delta(self) -> bool:
        return bool(self.delta_low_key)


@dataclass(frozen=True)
class KernelTrainConfig:
    """``[train]``: ``n_train`` (train on this many structures of the training split, drawn with
    ``seed``; 0 = all of it)."""

    n_train: int = 0
    seed: int = 0

    def __post_init__(self):
        integer("train", "n_train", self.n_train, 0)
        check(is_int(self.seed), "train", "seed", f"must be an integer, got {self.seed!r}")
