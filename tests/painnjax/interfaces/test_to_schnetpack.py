"""painnjax -> SchNetPack: ``to_schnetpack`` gives SchNetPack models with painnjax's energies and forces.

Small perturbed painnjax models (non-trivial ``scale``, ``shift`` and ``atomref``; separate and
shared interaction/filter weights) are carried into SchNetPack 2.1.1 and evaluated there on a
bundled cluster; the round trip through ``from_schnetpack`` returns the same model; and the
shipped "saam-gfn1" model, saved with ``torch.save``, is run through SchNetPack's own ASE
calculator.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import perturbed_model

pytest.importorskip("torch")

import painnjax
from painnjax import ConversionError, Model, PaiNNConfig, energy_and_forces, from_schnetpack, potential
from painnjax.data import bundled_structure
from painnjax.interfaces.calculator import PaiNNCalculator
from painnjax.interfaces.schnetpack import import_schnetpack, to_schnetpack

try:
    torch, spk = import_schnetpack()
except ConversionError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"schnetpack is not importable: {exc}", allow_module_level=True)

pytestmark = pytest.mark.schnetpack

CUTOFF = 5.0
SMALL = dict(n_atom_basis=16, n_interactions=2, n_rbf=8, cutoff=CUTOFF)
VARIANTS = {
    "separate": SMALL,
    "shared": dict(SMALL, shared_interactions=True, shared_filters=True),
}


def as_float64(model: Model) -> Model:
    variables = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), model.variables)
    return Model(model.config, variables, dict(model.metadata))


def schnetpack_energy_forces(nnp, atoms, dtype):
    conv = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=CUTOFF), dtype=dtype)
    out = nnp(conv(atoms))
    return float(out["energy"].detach().double().numpy().reshape(-1)[0]), out["forces"].detach().double().numpy()


def painnjax_energy_forces(model, atoms, dtype):
    with jax.enable_x64(dtype == jnp.float64):
        e, F = energy_and_forces(potential(model, atoms, dtype=dtype))(jnp.asarray(atoms.positions, dtype))
        assert e.dtype == dtype
        return float(e), np.asarray(F, np.float64)


def assert_same(e, F, e_ref, F_ref, tol, label):
    f_scale = np.max(np.abs(F_ref))
    assert f_scale > 0.1 and abs(e_ref) > 1.0, f"{label}: trivially small numbers make relative errors meaningless"
    e_err = abs(e - e_ref) / abs(e_ref)
    f_err = np.max(np.abs(F - F_ref)) / f_scale
    assert e_err < tol, f"{label}: SchNetPack energy {e} vs painnjax {e_ref}, relative error {e_err:.2e}"
    assert f_err < tol, f"{label}: max force error {f_err:.2e} of the force scale {f_scale:.3g} eV/Å"


@pytest.fixture(scope="module")
def sa2am2():
    return bundled_structure("SA2AM2")


@pytest.fixture(scope="module")
def models():
    """Perturbed painnjax models with scale 1.3, shift -0.2 eV/atom and random atom references."""
    out = {name: perturbed_model(PaiNNConfig(**hyper), seed=k) for k, (name, hyper) in enumerate(VARIANTS.items())}
    for m in out.values():
        c = m.variables["constants"]
        assert float(c["scale"]) != 1.0 and float(c["shift"]) != 0.0 and np.any(np.asarray(c["atomref"]) != 0.0)
    return out


# ---------------------------------------------------------------- energies and forces


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_energies_forces_float64(models, sa2am2, variant):
    model = as_float64(models[variant])
    nnp = to_schnetpack(model)
    assert nnp.representation.filter_net.weight.dtype == torch.float64  # float64 weights give a float64 model
    assert not nnp.training and nnp.do_postprocessing
    shared = VARIANTS[variant].get("shared_interactions", False)
    assert (nnp.representation.interactions[0] is nnp.representation.interactions[1]) == shared
    e_ref, F_ref = painnjax_energy_forces(model, sa2am2, jnp.float64)
    e, F = schnetpack_energy_forces(nnp, sa2am2, torch.float64)
    assert_same(e, F, e_ref, F_ref, 1e-6, f"{variant}, float64")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_energies_forces_float32(models, sa2am2, variant):
    model = models[variant]
    nnp = to_schnetpack(model)
    assert nnp.representation.filter_net.weight.dtype == torch.float32
    e_ref, F_ref = painnjax_energy_forces(model, sa2am2, jnp.float32)
    e, F = schnetpack_energy_forces(nnp, sa2am2, torch.float32)
    assert_same(e, F, e_ref, F_ref, 1e-4, f"{variant}, float32")


def test_zero_offsets_need_no_postprocessor(sa2am2):
    model = Model.init(PaiNNConfig(**SMALL), seed=3)
    nnp = to_schnetpack(model)
    assert len(nnp.postprocessors) == 0
    e_ref, F_ref = painnjax_energy_forces(model, sa2am2, jnp.float32)
    e, F = schnetpack_energy_forces(nnp, sa2am2, torch.float32)
    assert abs(e - e_ref) < 1e-4 * max(1.0, abs(e_ref))
    np.testing.assert_allclose(F, F_ref, rtol=0, atol=1e-4 * max(1.0, np.abs(F_ref).max()))


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_round_trip_through_from_schnetpack(models, variant):
    model = models[variant]
    back = from_schnetpack(to_schnetpack(model))
    assert back.config == model.config
    # SchNetPack has no energy scale that also scales forces: the scale comes back folded
    # into the last readout layer.
    scale = float(model.variables["constants"]["scale"])
    expected = jax.tree_util.tree_map(np.asarray, model.variables)
    last = f"layers_{len(model.config.readout_sizes) - 1}"
    expected["params"]["readout"][last] = {k: v * scale for k, v in expected["params"]["readout"][last].items()}
    expected["constants"]["scale"] = np.asarray(1.0)
    flat_exp = jax.tree_util.tree_leaves_with_path(expected)
    flat_got = dict(jax.tree_util.tree_leaves_with_path(back.variables))
    assert len(flat_exp) == len(flat_got)
    for k, v in flat_exp:
        np.testing.assert_allclose(
            np.asarray(flat_got[k], np.float64),
            np.asarray(v, np.float64),
            rtol=1e-6,
            atol=1e-7,
            err_msg=jax.tree_util.keystr(k),
        )


def test_mismatched_weights_are_refused():
    model = perturbed_model(PaiNNConfig(**SMALL))
    wrong = Model(PaiNNConfig(**dict(SMALL, n_rbf=10)), model.variables, model.metadata)
    with pytest.raises(ConversionError, match="do not match"):
        to_schnetpack(wrong)


# ---------------------------------------------------------------- the shipped model through SpkCalculator


def test_saam_gfn1_through_spk_calculator(tmp_path, monkeypatch):
    path = tmp_path / "saam-gfn1.pt"
    nnp = painnjax.to_schnetpack("saam-gfn1", path=path)  # the package-level export, by bundled name
    assert path.is_file() and isinstance(nnp, torch.nn.Module)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # a whole model, not a state_dict
    atoms = bundled_structure("SA1AM1")
    spk_atoms, jax_atoms = atoms.copy(), atoms.copy()
    spk_atoms.calc = spk.interfaces.SpkCalculator(
        str(path),
        neighbor_list=spk.transform.ASENeighborList(cutoff=CUTOFF),
        energy_unit="eV",
        position_unit="Angstrom",
    )
    jax_atoms.calc = PaiNNCalculator("saam-gfn1")
    e, F = spk_atoms.get_potential_energy(), spk_atoms.get_forces()
    e_ref, F_ref = jax_atoms.get_potential_energy(), jax_atoms.get_forces()
    assert_same(e, F, e_ref, F_ref, 1e-4, "saam-gfn1 on SA1AM1, SpkCalculator")
    # Total energies are large (the atom references): also hold the difference to a few
    # float32 roundings of them, so that a wrong shift (0.11 eV/atom) cannot pass.
    assert abs(e - e_ref) < 1e-3, f"SchNetPack {e} eV vs painnjax {e_ref} eV"
