"""painnjax: PaiNN neural-network potentials in JAX for atmospheric molecular clusters.

Public API (see README.md for a tour):
  PaiNNConfig, PaiNN                 -- hyper-parameters and the Flax model
  Model, load_model, save_model      -- a trained model and its file
  potential, energy_and_forces       -- the pure potential energy_fn(R, neighbor=None) in eV
  Potential, mean_potential          -- its typed value (n_atoms, species, cutoff, capacity, fits); committee mean
  Pairs, all_pairs, sparse_pairs     -- jit-compatible neighbour lists (also from jax-md)
  from_schnetpack                    -- carry a SchNetPack PaiNN over (needs the `compare` extra)
  to_schnetpack                      -- the reverse: a SchNetPack PaiNN with a model's weights
  PaiNNCalculator                    -- ASE calculator on the same potential
  read_dataset, to_binding_energies,
  make_split, TrainConfig, train     -- data, binding energies, splits and training (optax AdamW)
  committee_predict, committee_stats,
  select_by_spread, read_pool,
  write_selection, committee_report  -- committees: mean, spread, query by committee
"""

from painnjax._version import __version__
from painnjax.data.composition import MOLECULES, composition_of, molecule_counts
from painnjax.data.dataset import (
    Dataset,
    fit_element_offsets,
    read_dataset,
    read_monomer_references,
    subtract_element_offsets,
    to_binding_energies,
)
from painnjax.data.splits import Split, make_split
from painnjax.errors import ConversionError, InputError, ModelFileError, PainnjaxError
from painnjax.io.modelfile import bundled_models, load_model, save_model
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.nn.neighbors import Pairs, all_pairs, from_jax_md, jax_md_neighbor_fn, sparse_pairs
from painnjax.nn.painn import PaiNN, count_parameters, init_variables
from painnjax.potential import Potential, energy, energy_and_forces, mean_potential, potential
from painnjax.training.committee import (
    CommitteeStats,
    Selection,
    committee_predict,
    committee_report,
    committee_stats,
    read_pool,
    select_by_spread,
    write_selection,
)
from painnjax.training.config import TrainConfig
from painnjax.training.fit import train
from painnjax.units import ENERGY_UNITS


def from_schnetpack(*args, **kwargs):
    """Carry a SchNetPack PaiNN into a :class:`Model`; see :mod:`painnjax.interfaces.schnetpack`."""
    from painnjax.interfaces.schnetpack import from_schnetpack as _convert

    return _convert(*args, **kwargs)


def to_schnetpack(*args, **kwargs):
    """A SchNetPack ``NeuralNetworkPotential`` with a painnjax model's weights.

    See :mod:`painnjax.interfaces.schnetpack`."""
    from painnjax.interfaces.schnetpack import to_schnetpack as _convert

    return _convert(*args, **kwargs)


def __getattr__(name):
    # The ASE calculator is imported on first use, keeping `import painnjax` light.
    if name == "PaiNNCalculator":
        from painnjax.interfaces.calculator import PaiNNCalculator

        return PaiNNCalculator
    raise AttributeError(f"module 'painnjax' has no attribute {name!r}")


__all__ = [
    "__version__",
    "ENERGY_UNITS",
    "MOLECULES",
    "Dataset",
    "Split",
    "TrainConfig",
    "composition_of",
    "fit_element_offsets",
    "make_split",
    "molecule_counts",
    "read_dataset",
    "read_monomer_references",
    "subtract_element_offsets",
    "to_binding_energies",
    "train",
    "CommitteeStats",
    "Selection",
    "committee_predict",
    "committee_report",
    "committee_stats",
    "read_pool",
    "select_by_spread",
    "write_selection",
    "ConversionError",
    "InputError",
    "Model",
    "ModelFileError",
    "PaiNN",
    "PaiNNCalculator",
    "PaiNNConfig",
    "PainnjaxError",
    "Pairs",
    "all_pairs",
    "bundled_models",
    "count_parameters",
    "Potential",
    "energy",
    "energy_and_forces",
    "mean_potential",
    "from_jax_md",
    "from_schnetpack",
    "init_variables",
    "jax_md_neighbor_fn",
    "load_model",
    "potential",
    "save_model",
    "sparse_pairs",
    "to_schnetpack",
]
