"""The painnjax potential for a structure that a driver reads, and the precision it runs in.

:func:`build_potential` makes the painnjax potential of a read structure (sized to its pairs;
a list of models gives their committee mean), with element and position errors naming the
file and a warning, once, for a structure outside a model's training domain; :func:`precision`
switches JAX's float64 mode on for one run only, never globally.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp

from painnjax.data.domain import warn_outside
from painnjax.errors import InputError
from painnjax.io.modelfile import load_model
from painnjax.potential import mean_potential, potential
from painnjax.validate import check_free_cluster, check_positions

#: the precisions a driver runs in
DTYPES = ("float32", "float64")


def build_potential(model, atoms, dtype: str = "float32", neighbor: str = "auto"):
    """The painnjax potential for ``atoms`` (sized to its pairs); element errors name the file.

    A list of models gives their committee mean (:func:`painnjax.potential.mean_potential`).
    ``neighbor``: the pair layout (:func:`painnjax.potential`). A structure unlike those a
    model was trained on (:mod:`painnjax.data.domain`) is warned about, once per command."""
    source = atoms.info.get("source")
    check_free_cluster(atoms, source)
    check_positions(atoms.positions, len(atoms), source=source, symbols=atoms.get_chemical_symbols())
    kwargs = dict(reference_positions=atoms.positions, dtype=jnp.dtype(dtype), neighbor=neighbor)
    try:
        if isinstance(model, (list, tuple)):
            models = [load_model(m) for m in model]
            warn_outside(models, atoms, stacklevel=3)
            return mean_potential(models, atoms, **kwargs)
        model = load_model(model)
        warn_outside(model, atoms, stacklevel=3)
        return potential(model, atoms, **kwargs)
    except InputError as exc:
        raise InputError(f"{source}: {exc}" if source else str(exc)) from None


@contextlib.contextmanager
def precision(dtype: str):
    """float64 needs JAX's x64 mode: switched on for the run only, never globally."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    with jax.enable_x64(dtype == "float64"):
        yield
