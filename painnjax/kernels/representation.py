"""FCHL19 representations of clusters (via qmllib), padded to one array, and their global forms.

Shapes: ``X`` (S, A, D) float64, one FCHL19 vector of length D per atom, zero rows where a
structure has fewer than A atoms; ``Z`` (S, A) int32 atomic numbers, 0 for padding. D depends on
the elements (``elements``, sorted) and on the two- and three-body grid sizes:
D = n_el·nRs2 + n_el(n_el+1)/2 · nRs3·nFourier·2... as qmllib lays it out. The representation
is dimensionless (qmllib's units: Å inside).

Global (per-structure) vectors for k-NN: ``"sum"`` adds the atoms' vectors (the k-NN study's
atom-summed FCHL19); ``"element_sum"`` adds them per element and concatenates (S, n_el·D), which
keeps which element an environment belongs to.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from painnjax.config import check, is_real, positive
from painnjax.errors import InputError

SECTION = "model.fchl19"
GLOBAL_FORMS = ("sum", "element_sum")


@dataclass(frozen=True)
class FCHL19Config:
    """FCHL19 parameters (``[model.fchl19]``); defaults are qmllib's (Christensen et al. 2020)."""

    nRs2: int = 24
    nRs3: int = 20
    nFourier: int = 1
    eta2: float = 0.32
    eta3: float = 2.7
    zeta: float = float(np.pi)
    rcut: float = 8.0  # Å
    acut: float = 8.0  # Å
    two_body_decay: float = 1.8
    three_body_decay: float = 0.57
    three_body_weight: float = 13.4

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                check(isinstance(value, int) and value >= 1, SECTION, f.name, f"must be an integer >= 1, got {value!r}")
            elif f.name in ("two_body_decay", "three_body_decay"):
                check(is_real(value) and value >= 0, SECTION, f.name, f"must be a number >= 0, got {value!r}")
            else:
                positive(SECTION, f.name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Representations:
    """FCHL19 vectors of S structures: ``X`` (S, A, D), ``Z`` (S, A) (0 = padding), ``elements``."""

    X: np.ndarray
    Z: np.ndarray
    elements: tuple[int, ...]

    @property
    def n_atoms(self) -> np.ndarray:
        return (self.Z > 0).sum(axis=1)

    def __len__(self) -> int:
        return len(self.X)

    def charges(self) -> list[np.ndarray]:
        """Atomic numbers per structure, unpadded (qmllib's ``Q`` lists)."""
        return [z[z > 0] for z in self.Z]

    def padded(self, n_atoms: int) -> Representations:
        """The same with A = ``n_atoms`` (more zero rows)."""
        S, A, D = self.X.shape
        if n_atoms < A:
            raise InputError(f"cannot pad FCHL19 representations of {A} atoms to {n_atoms}")
        X = np.zeros((S, n_atoms, D))
        Z = np.zeros((S, n_atoms), np.int32)
        X[:, :A], Z[:, :A] = self.X, self.Z
        return Representations(X, Z, self.elements)

    def subset(self, idx) -> Representations:
        idx = np.asarray(idx)
        return Representations(self.X[idx], self.Z[idx], self.elements)


def fchl19(numbers, positions, config: FCHL19Config, elements, n_atoms: int | None = None) -> Representations:
    """FCHL19 of every structure (``numbers[i]`` (n_i,), ``positions[i]`` (n_i, 3) Å) with qmllib.

    ``elements``: the atomic numbers the representation has channels for; a structure with
    another element is an :class:`InputError`. ``n_atoms``: the padded size A (default: the
    largest structure).
    """
    from qmllib.representations import generate_fchl19  # here: qmllib is an optional extra (painnjax[kernels])

    elements = tuple(sorted(int(z) for z in elements))
    sizes = [len(z) for z in numbers]
    A = max(sizes) if n_atoms is None else int(n_atoms)
    if sizes and max(sizes) > A:
        raise InputError(f"a structure has {max(sizes)} atoms, more than the {A} the representation is padded to")
    params = config.to_dict()
    X, Z = None, np.zeros((len(sizes), A), np.int32)
    for i, (z, r) in enumerate(zip(numbers, positions)):
        z = np.asarray(z, np.int64)
        other = sorted(set(z.tolist()) - set(elements))
        if other:
            raise InputError(f"structure {i}: element(s) {other} not among the model's elements {list(elements)}")
        x = generate_fchl19(z, np.asarray(r, np.float64), elements=list(elements), pad=A, **params)
        if X is None:
            X = np.zeros((len(sizes), A, x.shape[1]))
        X[i] = x
        Z[i, : len(z)] = z
    if X is None:
        raise InputError("no structures to represent")
    return Representations(X, Z, elements)


def global_vectors(reps: Representations, form: str = "sum") -> np.ndarray:
    """Per-structure vectors (S, G): the atoms' FCHL19 summed (``"sum"``) or summed per element (``"element_sum"``)."""
    if form == "sum":
        return reps.X.sum(axis=1)
    if form == "element_sum":
        return np.concatenate([(reps.X * (reps.Z == z)[..., None]).sum(axis=1) for z in reps.elements], axis=1)
    raise InputError(f"unknown global representation {form!r}; use one of {', '.join(GLOBAL_FORMS)}")
