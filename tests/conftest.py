"""Shared fixtures and helpers of the painnjax test suite.

Real data lives beside the repository (CI clones it to X/main with X/shared next to it);
tests that need it are skipped with a clear reason when it is absent. Small models keep the
suite fast on a 2-core CPU; float64 is only switched on locally with ``jax.enable_x64``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# fixture modules shared by sub-folders (a conftest.py there would shadow this one for `from conftest import`)
pytest_plugins = ["kernel_helpers"]

# The user cache (thermo's monomer references, $XDG_CACHE_HOME/painnjax) goes to a folder of this test
# session, not the user's ~/.cache: a test must neither read a cache a user run left nor leave one.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="painnjax-test-cache-")

# XLA's compiled programs are kept in JAX's persistent compilation cache under .pytest_cache/:
# many tests build the same small models and steps again (new closures, the same program), and
# the two xdist workers and the subprocesses some tests start (they inherit the environment)
# share it. A clean clone (CI) starts cold; PAINNJAX_TEST_JAX_CACHE=0 turns it off. Set before
# jax is imported, which reads these variables once.
if os.environ.get("PAINNJAX_TEST_JAX_CACHE", "1") != "0":
    _cache = Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation-cache"
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_cache))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import e3nn_jax as e3nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from painnjax import Model, PaiNNConfig  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
POOL_FILE = DATA_DIR / "saam_gfn1" / "train_pool_300K.extxyz"
START_FILE = DATA_DIR / "starts" / "wu_4sa4am.xyz"

ELEMENTS = [1, 7, 8, 16]  # H, N, O, S
SMALL = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)


def rotation(k: int) -> np.ndarray:
    """A random proper rotation (3, 3), orthogonal to float64 precision.

    e3nn-jax draws the random angles; the matrix is built from them in float64 (e3nn's
    ``rand_matrix`` itself returns float32, orthogonal only to ~1e-7).
    """
    with jax.enable_x64(True):
        angles = e3nn.rand_angles(jax.random.PRNGKey(k), ())
        q = e3nn.angles_to_matrix(*(jnp.asarray(a, jnp.float64) for a in angles))
        return np.asarray(q, np.float64)


def perturbed_model(config: PaiNNConfig = SMALL, seed: int = 0, elements=ELEMENTS, noise: float = 0.1) -> Model:
    """A seeded model whose biases and energy offsets are non-zero too.

    A fresh model has zero biases and trivial offsets; noise on every weight and non-trivial
    ``scale``/``shift``/``atomref`` make every part of the energy matter in the tests.
    """
    model = Model.init(config, seed=seed, elements=elements)
    params = model.variables["params"]
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(1000 + seed), len(leaves))
    leaves = [np.asarray(x + noise * jax.random.normal(k, x.shape, x.dtype)) for x, k in zip(leaves, keys)]
    rng = np.random.default_rng(seed)
    offsets = {
        **model.variables["constants"],  # keeps the radial-basis centres and widths
        "scale": np.asarray(1.3, np.float32),
        "shift": np.asarray(-0.2, np.float32),
        "atomref": np.asarray(rng.normal(0.0, 0.5, config.max_z), np.float32),
    }
    variables = {"params": jax.tree_util.tree_unflatten(treedef, leaves), "constants": offsets}
    return Model(config, variables, dict(model.metadata))


def rattled_set(sa1am1, sa2am2, seed: int, n: int = 6):
    """``n`` structures of two sizes: rattled SA1AM1 (even k) and SA2AM2 (odd k) with made-up
    smooth labels (total energies ~ -1 eV per atom, random forces), drawn with ``seed``."""
    from painnjax.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    numbers, positions, energy, forces, info = [], [], [], [], []
    for k in range(n):
        atoms = (sa1am1 if k % 2 == 0 else sa2am2).copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        numbers.append(atoms.numbers.astype(np.int32))
        positions.append(atoms.positions.copy())
        energy.append(-1.0 * len(atoms) + rng.normal(0.0, 0.1))
        forces.append(rng.normal(0.0, 0.3, atoms.positions.shape))
        info.append({"source": "synthetic", "frame": k, "composition": "SA1AM1" if k % 2 == 0 else "SA2AM2"})
    return Dataset(numbers, positions, np.asarray(energy), forces, info)


def rel_err(a, b) -> float:
    """max |a - b| / max |b| (b is the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data folder {DATA_DIR} is absent (expected beside the repository as ../shared/data)")
    return DATA_DIR


@pytest.fixture(scope="session")
def pool_frames(shared_data):
    """All GFN1-xTB frames of train_pool_300K.extxyz (read once per session)."""
    if not POOL_FILE.is_file():
        pytest.skip(f"{POOL_FILE} is absent")
    from ase.io import read

    return read(POOL_FILE, index=":")


@pytest.fixture(scope="session")
def start_cluster(shared_data):
    """The (SA)4(AM)4 equilibrium structure of Wu et al. (44 atoms)."""
    if not START_FILE.is_file():
        pytest.skip(f"{START_FILE} is absent")
    from ase.io import read

    return read(START_FILE)


@pytest.fixture(scope="session")
def small_model() -> Model:
    return perturbed_model(SMALL, seed=0)


@pytest.fixture
def x64():
    """float64 for the duration of one test (never switched on globally)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def sa1am1():
    return bundled_structure("SA1AM1")


@pytest.fixture(scope="session")
def sa2am2():
    return bundled_structure("SA2AM2")


@pytest.fixture(scope="session")
def sa4am4():
    return bundled_structure("SA4AM4")
