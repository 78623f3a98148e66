"""SchNetPack parity: parameter counts, energies and forces of converted models, refusals.

Random-weight SchNetPack 2.1.1 PaiNN models (weights perturbed so that biases are non-zero and
energies/forces are not trivially small) with ``AddOffsets`` (mean + atom references) are
converted with ``from_schnetpack`` and compared on real SA-AM clusters from ../shared/data.
"""

from __future__ import annotations

import json
import os
import shlex

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ELEMENTS

pytest.importorskip("torch")

from painnjax import ConversionError, PaiNNConfig, energy_and_forces, from_schnetpack, load_model, potential
from painnjax.cli import main as cli_main
from painnjax.interfaces.schnetpack import import_schnetpack
from painnjax.nn.painn import count_parameters, init_variables

try:
    torch, spk = import_schnetpack()
except ConversionError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"schnetpack is not importable: {exc}", allow_module_level=True)

pytestmark = pytest.mark.schnetpack

CUTOFF = 5.0
PERTURBATION = 0.05  # std of the noise added to every SchNetPack parameter (~ the Xavier weight scale)
# 1 kcal/mol in eV from the SI definitions (4184 J, Avogadro, elementary charge), independent of ASE.
KCAL_PER_MOL_IN_EV = 4184.0 / (6.02214076e23 * 1.602176634e-19)

DEFAULT = dict(n_atom_basis=128, n_interactions=5, n_rbf=20)
SMALL = dict(n_atom_basis=32, n_interactions=3, n_rbf=10)


def build_schnetpack(
    n_atom_basis,
    n_interactions,
    n_rbf,
    cutoff=CUTOFF,
    seed=0,
    perturb=True,
    radial_basis=None,
    representation=None,
    postprocessors=None,
    **painn_kwargs,
):
    """A SchNetPack NeuralNetworkPotential: PaiNN + Atomwise energy + Forces, CastTo64 + AddOffsets."""
    torch.manual_seed(seed)
    rbf = radial_basis or spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff)
    rep = representation or spk.representation.PaiNN(
        n_atom_basis=n_atom_basis,
        n_interactions=n_interactions,
        radial_basis=rbf,
        cutoff_fn=spk.nn.CosineCutoff(cutoff),
        **painn_kwargs,
    )
    # SchNetPack 2.1.1's AddOffsets(atomrefs=tensor) crashes; set the buffers afterwards.
    offsets = spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True)
    offsets.atomref = torch.randn(100, dtype=torch.float32) * 0.1
    offsets.mean = torch.tensor([-3.0])
    nnp = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=n_atom_basis, output_key="energy"),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
        postprocessors=[spk.transform.CastTo64(), offsets] if postprocessors is None else postprocessors,
    )
    if perturb:
        with torch.no_grad():
            for p in nnp.parameters():
                p.add_(PERTURBATION * torch.randn_like(p))
    return nnp


def schnetpack_energy_forces(nnp, atoms, dtype):
    conv = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=CUTOFF), dtype=dtype)
    out = nnp(conv(atoms))
    return float(out["energy"].detach().double().numpy().reshape(-1)[0]), out["forces"].detach().double().numpy()


def painnjax_energy_forces(model, structures, dtype):
    """Energies and forces of each structure; one compiled function per composition."""
    fns, out = {}, []
    for atoms in structures:
        key = tuple(atoms.numbers)
        if key not in fns:
            fns[key] = energy_and_forces(potential(model, atoms, dtype=dtype))
        e, F = fns[key](jnp.asarray(atoms.positions, dtype))
        assert e.dtype == dtype
        out.append((float(e), np.asarray(F, np.float64)))
    return out


def assert_parity(nnp, model, structures, torch_dtype, jax_dtype, tol):
    for atoms, (e, F) in zip(structures, painnjax_energy_forces(model, structures, jax_dtype)):
        e_ref, F_ref = schnetpack_energy_forces(nnp, atoms, torch_dtype)
        f_scale = np.max(np.abs(F_ref))
        # Preconditions: relative errors only mean something for non-trivial numbers.
        assert f_scale > 0.1, "forces of the test model are trivially small"
        assert abs(e_ref) > 1.0, "energy of the test model is too close to zero for a relative error"
        e_err = abs(e - e_ref) / abs(e_ref)
        f_err = np.max(np.abs(F - F_ref)) / f_scale
        label = f"{atoms.get_chemical_formula()} ({len(atoms)} atoms)"
        assert e_err < tol, f"{label}: energy {e} vs SchNetPack {e_ref}, relative error {e_err:.2e}"
        assert f_err < tol, f"{label}: max force error {f_err:.2e} of the force scale {f_scale:.3g} eV/Å"


@pytest.fixture(scope="module")
def frames(pool_frames):
    """Real GFN1-xTB MD frames: SA1AM1, and two frames of one SA3AM3 trajectory."""
    by_comp = {}
    for a in pool_frames:
        by_comp.setdefault(a.info["composition"], []).append(a)
    traj = [a for a in by_comp["SA3AM3"] if a.info["name"] == by_comp["SA3AM3"][0].info["name"]]
    chosen = [by_comp["SA1AM1"][0], traj[0], traj[len(traj) // 2]]
    for a in chosen:
        assert not a.pbc.any() and set(a.numbers) <= set(ELEMENTS)
    return chosen


@pytest.fixture(scope="module")
def structures(frames, start_cluster):
    """The MD frames and the (SA)4(AM)4 equilibrium start structure (44 atoms)."""
    return [*frames, start_cluster]


# ---------------------------------------------------------------- parameter counts


@pytest.mark.parametrize(
    "hyper",
    [
        DEFAULT,
        SMALL,
        dict(SMALL, shared_filters=True),
        dict(SMALL, shared_interactions=True),
        dict(SMALL, shared_interactions=True, shared_filters=True),
        dict(n_atom_basis=16, n_interactions=2, n_rbf=8),
    ],
    ids=["default", "small", "shared_filters", "shared_interactions", "shared_both", "tiny"],
)
def test_parameter_count_matches_schnetpack(hyper):
    nnp = build_schnetpack(**hyper, perturb=False)
    # Module.parameters() yields each shared tensor once: the unique parameters.
    n_spk = sum(p.numel() for p in nnp.parameters())
    config = PaiNNConfig(**hyper)
    n_jax = count_parameters(jax.eval_shape(lambda: init_variables(config))["params"])
    assert n_jax == n_spk
    if hyper == DEFAULT:
        assert n_spk == 967681


# ---------------------------------------------------------------- energies and forces


@pytest.fixture(scope="module")
def converted():
    """SchNetPack models (float64 copies) and their conversions, built once per hyper-parameter set."""
    cache = {}

    def get(name, hyper, precision):
        key = (name, precision)
        if key not in cache:
            nnp = build_schnetpack(**hyper, seed=0)
            if precision == "float64":
                nnp = nnp.double()
            model = from_schnetpack(nnp, elements=ELEMENTS)
            cache[key] = (nnp, model)
        return cache[key]

    return get


def test_parity_float64(converted, structures, x64):
    nnp, model = converted("small", SMALL, "float64")
    assert model.config == PaiNNConfig(**SMALL)
    assert_parity(nnp, model, structures, torch.float64, jnp.float64, tol=1e-6)


@pytest.mark.parametrize("shared", ["shared_filters", "shared_interactions"])
def test_parity_float64_shared_weights(converted, frames, x64, shared):
    hyper = dict(SMALL, **{shared: True})
    nnp, model = converted(shared, hyper, "float64")
    assert model.config == PaiNNConfig(**hyper)
    assert_parity(nnp, model, frames[1:2], torch.float64, jnp.float64, tol=1e-6)


def test_parity_float64_default_size(converted, start_cluster, x64):
    nnp, model = converted("default", DEFAULT, "float64")
    assert model.n_parameters == 967681
    assert_parity(nnp, model, [start_cluster], torch.float64, jnp.float64, tol=1e-6)


def test_parity_float32(converted, frames, start_cluster):
    nnp, model = converted("small", SMALL, "float32")
    assert_parity(nnp, model, [frames[0], start_cluster], torch.float32, jnp.float32, tol=1e-4)


def test_parity_float32_default_size(converted, start_cluster):
    nnp, model = converted("default", DEFAULT, "float32")
    assert_parity(nnp, model, [start_cluster], torch.float32, jnp.float32, tol=1e-4)


def test_energy_unit_kcal_per_mol_gives_ev(converted, frames, x64):
    nnp, _ = converted("small", SMALL, "float64")
    model = from_schnetpack(nnp, energy_unit="kcal/mol")
    atoms = frames[0]
    ((e, F),) = painnjax_energy_forces(model, [atoms], jnp.float64)
    e_kcal, F_kcal = schnetpack_energy_forces(nnp, atoms, torch.float64)
    assert e == pytest.approx(e_kcal * KCAL_PER_MOL_IN_EV, rel=1e-6)
    np.testing.assert_allclose(
        F, F_kcal * KCAL_PER_MOL_IN_EV, rtol=0, atol=1e-6 * np.abs(F_kcal).max() * KCAL_PER_MOL_IN_EV
    )
    assert "kcal/mol" in model.metadata["source"]


# ---------------------------------------------------------------- command line round trip


def test_convert_cli_round_trip(converted, frames, tmp_path, capsys):
    nnp, direct = converted("small", SMALL, "float32")
    pt = tmp_path / "schnetpack_model.pt"
    torch.save(nnp, pt)
    out = tmp_path / "converted.painn"
    assert cli_main(["convert-schnetpack", str(pt), str(out), "--elements", "H,N,O,S"]) == 0
    assert "parameters" in capsys.readouterr().out
    model = load_model(out)
    assert model.elements == tuple(ELEMENTS)
    assert model.config == direct.config
    # The file holds exactly the weights of the in-memory conversion ...
    for (k, a), (_, b) in zip(
        jax.tree_util.tree_leaves_with_path(direct.variables), jax.tree_util.tree_leaves_with_path(model.variables)
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(k))
    # ... and gives SchNetPack's energy.
    atoms = frames[1]
    ((e_file, _),) = painnjax_energy_forces(model, [atoms], jnp.float32)
    e_ref, _ = schnetpack_energy_forces(nnp, atoms, torch.float32)
    assert abs(e_file - e_ref) < 1e-4 * abs(e_ref)
    # `info` reports the converted model.
    assert cli_main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_parameters"] == model.n_parameters
    assert info["config"]["n_atom_basis"] == SMALL["n_atom_basis"]
    assert info["metadata"]["elements"] == ELEMENTS


def test_convert_cli_with_kcal_per_mol(converted, tmp_path):
    nnp, _ = converted("small", SMALL, "float32")
    pt = tmp_path / "m.pt"
    torch.save(nnp, pt)
    out = tmp_path / "m.painn"
    assert cli_main(["convert-schnetpack", str(pt), str(out), "--energy-unit", "kcal/mol"]) == 0
    model = load_model(out)
    assert float(model.variables["constants"]["scale"]) == pytest.approx(KCAL_PER_MOL_IN_EV, rel=1e-6)


# ---------------------------------------------------------------- refusals


TINY = dict(n_atom_basis=8, n_interactions=1, n_rbf=4)


def _scale_property_model():
    nnp = build_schnetpack(**TINY, perturb=False)
    nnp.postprocessors.append(spk.transform.ScaleProperty(input_key="energy", scale=torch.tensor([2.0])))
    return nnp


def _schnet_model():
    rep = spk.representation.SchNet(
        n_atom_basis=8,
        n_interactions=1,
        radial_basis=spk.nn.GaussianRBF(n_rbf=4, cutoff=CUTOFF),
        cutoff_fn=spk.nn.CosineCutoff(CUTOFF),
    )
    return build_schnetpack(**TINY, representation=rep, perturb=False)


def _bessel_model():
    return build_schnetpack(**TINY, radial_basis=spk.nn.BesselRBF(n_rbf=4, cutoff=CUTOFF), perturb=False)


REFUSED = {
    "ScaleProperty": _scale_property_model,
    "SchNet": _schnet_model,
    "BesselRBF": _bessel_model,
}


@pytest.mark.parametrize("part", sorted(REFUSED))
def test_unconvertible_parts_are_named(part):
    nnp = REFUSED[part]()
    with pytest.raises(ConversionError, match=part):
        from_schnetpack(nnp)


@pytest.mark.parametrize("part", sorted(REFUSED))
def test_unconvertible_parts_through_cli(part, tmp_path, capsys):
    pt = tmp_path / "model.pt"
    torch.save(REFUSED[part](), pt)
    out = tmp_path / "out.painn"
    assert cli_main(["convert-schnetpack", str(pt), str(out)]) == 2
    err = capsys.readouterr().err
    # Read without trust, the file may not name the part's class: refused, naming it.
    assert "error:" in err and part in err and "--trust-pickle" in err
    assert not out.exists()
    # Trusted, it is read in full and the conversion names the part it cannot carry.
    assert cli_main(["convert-schnetpack", str(pt), str(out), "--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and part in err and "not loaded" not in err
    assert not out.exists()


def test_state_dict_file_is_refused(tmp_path, capsys):
    pt = tmp_path / "state.pt"
    torch.save(build_schnetpack(**TINY, perturb=False).state_dict(), pt)
    with pytest.raises(ConversionError, match="state_dict"):
        from_schnetpack(pt)
    assert cli_main(["convert-schnetpack", str(pt), str(tmp_path / "o.painn")]) == 2
    assert "state_dict" in capsys.readouterr().err


def test_missing_or_unreadable_input_is_refused(tmp_path):
    with pytest.raises(ConversionError, match="no such file"):
        from_schnetpack(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a torch file")
    with pytest.raises(ConversionError, match="junk.pt"):
        from_schnetpack(junk)


def test_unknown_energy_unit_is_refused(tmp_path, capsys):
    nnp = build_schnetpack(**TINY, perturb=False)
    with pytest.raises(ConversionError, match="energy_unit"):
        from_schnetpack(nnp, energy_unit="furlongs")
    pt = tmp_path / "m.pt"
    torch.save(nnp, pt)
    assert cli_main(["convert-schnetpack", str(pt), str(tmp_path / "o.painn"), "--energy-unit", "furlongs"]) == 2
    assert "error:" in capsys.readouterr().err


# ---------------------------------------------------------------- no code runs from a .pt file


class _RunsCode:
    """Unpickling this calls ``func(*args)``: what a crafted .pt file does to its reader."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _crafted(how: str, marker):
    if how == "exec":
        return _RunsCode(exec, f"open({str(marker)!r}, 'w').write('ran')")
    return _RunsCode(os.system, f"touch {shlex.quote(str(marker))}")


@pytest.mark.parametrize("how", ["exec", "os.system"])
def test_crafted_pickle_is_refused_and_runs_nothing(how, tmp_path, capsys):
    marker = tmp_path / "marker"
    pt = tmp_path / "crafted.pt"
    torch.save(_crafted(how, marker), pt)
    refused = r"crafted.pt: not loaded: the file names \S*(exec|system).*--trust-pickle"
    with pytest.raises(ConversionError, match=refused):
        from_schnetpack(pt)
    out = tmp_path / "out.painn"
    assert cli_main(["convert-schnetpack", str(pt), str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "crafted.pt" in err and "--trust-pickle" in err
    assert not marker.exists() and not out.exists()
    # The test has teeth: trusted, the file is unpickled in full and its code runs.
    with pytest.raises(ConversionError, match="expected a schnetpack.model.NeuralNetworkPotential"):
        from_schnetpack(pt, trust_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("variant", ["tiny", "shared-float64"])
def test_schnetpack_model_file_converts_without_trust(variant, tmp_path, capsys):
    """An ordinary SchNetPack model file needs only allowed classes: read without --trust-pickle."""
    extra = dict(shared_interactions=True, shared_filters=True) if variant != "tiny" else {}
    nnp = build_schnetpack(**TINY, **extra)
    if variant != "tiny":
        nnp = nnp.double()
    pt = tmp_path / "model.pt"
    torch.save(nnp, pt)
    direct, from_file = from_schnetpack(nnp), from_schnetpack(pt)
    assert from_file.config == direct.config
    for (k, a), (_, b) in zip(
        jax.tree_util.tree_leaves_with_path(direct.variables), jax.tree_util.tree_leaves_with_path(from_file.variables)
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(k))
    out = tmp_path / "model.painn"
    assert cli_main(["convert-schnetpack", str(pt), str(out)]) == 0
    assert "parameters" in capsys.readouterr().out
    assert load_model(out).config == direct.config
