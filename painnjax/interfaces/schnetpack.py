"""Carry a SchNetPack 2.x PaiNN energy model into painnjax, weight for weight.

Accepted: a ``torch.save``d ``schnetpack.model.NeuralNetworkPotential`` (or its file) with
``PairwiseDistances`` as input module, a ``schnetpack.representation.PaiNN`` representation
(Gaussian RBF starting at 0, cosine cutoff, SiLU, plain ``nn.Embedding``, no electronic
embeddings), one ``Atomwise`` energy head with sum aggregation, ``Forces``, and the
postprocessors ``CastTo32``/``CastTo64``/``AddOffsets``. Anything else is refused with a
:class:`~painnjax.errors.ConversionError` naming the part.

A file is read with ``torch.load(weights_only=True)`` and may name only the classes of those
parts (:func:`allowed_globals`), so a crafted file cannot run code; ``trust_pickle=True`` (the
command line's ``--trust-pickle``) reads a file you trust with full unpickling.

Energies are stored in eV: a model trained in kcal/mol (SchNetPack's calculator default) is
converted by scaling its readout and offsets with ``energy_unit``.

The reverse, :func:`to_schnetpack`, builds such a SchNetPack model from a painnjax one.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from painnjax.errors import ConversionError
from painnjax.io.modelfile import load_model
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.nn.painn import init_variables
from painnjax.units import ENERGY_UNITS

# The energy units a SchNetPack model may be in (its training data's): a subset of painnjax's.
ENERGY_UNITS_IN_EV = {k: ENERGY_UNITS[k] for k in ("eV", "meV", "kcal/mol", "kJ/mol", "Hartree", "Ha")}


def import_schnetpack():
    """Import schnetpack under torch >= 2.6 (its loader imports a renamed type variable)."""
    # Imported here, not at the head: torch and schnetpack are an optional extra (painnjax[compare]).
    try:
        import torch
        import torch.utils.data.dataloader as _dl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConversionError(
            "SchNetPack conversion needs torch and schnetpack: pip install 'painnjax[compare]'"
        ) from exc
    if not hasattr(_dl, "T_co"):
        _dl.T_co = _dl._T_co  # only used in schnetpack's type hints
    try:
        import schnetpack
    except ImportError as exc:  # pragma: no cover
        raise ConversionError("schnetpack is not installed: pip install 'painnjax[compare]'") from exc
    return torch, schnetpack


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _dense(layer, name: str, bias: bool = True) -> dict:
    out = {"kernel": _np(layer.weight).T}
    if bias:
        if layer.bias is None:
            raise ConversionError(f"{name}: expected a bias")
        out["bias"] = _np(layer.bias)
    return out


def _is_silu(act, torch) -> bool:
    return act is torch.nn.functional.silu or isinstance(act, torch.nn.SiLU)


def allowed_globals(torch, spk) -> list:
    """The classes and functions a ``.pt`` file may name when read without ``trust_pickle``.

    Exactly the parts :func:`from_schnetpack` can carry over (and the torch containers,
    initialisers and activation they are built from). Unpickling calls what a file names, so a
    file naming anything else is refused before any of it runs.
    """
    painn = spk.representation.painn
    return [
        spk.model.NeuralNetworkPotential,
        spk.atomistic.PairwiseDistances,
        spk.atomistic.Strain,
        spk.atomistic.Atomwise,
        spk.atomistic.Forces,
        spk.representation.PaiNN,
        painn.PaiNNInteraction,
        painn.PaiNNMixing,
        spk.nn.GaussianRBF,
        spk.nn.CosineCutoff,
        spk.nn.Dense,
        spk.transform.CastTo32,
        spk.transform.CastTo64,
        spk.transform.AddOffsets,
        torch.nn.ModuleList,
        torch.nn.ModuleDict,
        torch.nn.Sequential,
        torch.nn.Embedding,
        torch.nn.Identity,
        torch.nn.Linear,
        torch.nn.SiLU,
        torch.nn.functional.silu,
        torch.nn.init.xavier_uniform_,
        torch.nn.init.zeros_,
    ]


def _refused_globals(torch, path: Path, message: str) -> list[str]:
    """The names a refused ``.pt`` file needs beyond the allowed ones (all of them if torch can list them)."""
    try:
        names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # a legacy (non-zip) file, or an older torch: the first name from the message
        names = []
    if not names:
        m = re.search(r"GLOBAL (\S+) was not an allowed global|Unsupported global: GLOBAL (\S+)", message)
        m = m or re.search(r"(?:unsupported GLOBAL|unrecognized function) (\S+)", message)
        names = [next(g for g in m.groups() if g)] if m else []
    return names


def load_schnetpack_file(path, trust_pickle: bool = False):
    """``torch.load`` a SchNetPack model file, by default without running code from it.

    Without ``trust_pickle`` the file is read with ``weights_only=True`` and may name only the
    classes of :func:`allowed_globals`; any other is refused with a :class:`ConversionError`
    that names it. ``trust_pickle=True`` is plain ``torch.load(weights_only=False)``: it runs
    whatever the file's pickle calls, so only for files you made or whose source you trust.
    """
    torch, spk = import_schnetpack()
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    trust = "--trust-pickle (from_schnetpack(..., trust_pickle=True))"
    try:
        with torch.serialization.safe_globals(allowed_globals(torch, spk)):
            if trust_pickle:
                return torch.load(path, map_location="cpu", weights_only=False)
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError as exc:
                names = _refused_globals(torch, path, str(exc))
                if not names:  # no refused name: damaged, not a torch file, or torch's legacy format
                    detail = str(exc).split("WeightsUnpickler error:")[-1].strip().split("\n")[0]
                    raise ConversionError(
                        f"{path}: cannot be read by torch.load with weights_only=True ({detail}); a model "
                        f"file in torch's legacy format whose source you trust can be read with {trust}"
                    ) from None
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(f"{path}: cannot be read by torch.load ({type(exc).__name__}: {exc})") from None
    which = "which is not" if len(names) == 1 else "which are not"
    raise ConversionError(
        f"{path}: not loaded: the file names {', '.join(names)}, {which} part of a SchNetPack PaiNN model "
        "that painnjax can carry over, and reading a .pt file calls what it names (a crafted file can run "
        f"any code). If you made this file or trust its source, convert it with {trust}"
    )


def from_schnetpack(
    model_or_path, energy_unit: str = "eV", elements=None, energy_key: str = "energy", trust_pickle: bool = False
):
    """A :class:`painnjax.Model` with the weights of a SchNetPack PaiNN.

    Args:
        model_or_path: the SchNetPack model, or the path of its ``torch.save`` file.
        energy_unit: the unit of the SchNetPack model's energies (``"eV"``, ``"kcal/mol"``, ...).
        elements: atomic numbers the model was trained on (for input checks); None = any.
        energy_key: the ``output_key`` of the energy ``Atomwise`` head.
        trust_pickle: read a file with full unpickling (``torch.load(weights_only=False)``),
            which runs any code the file holds. By default a file may name only the SchNetPack
            and torch classes of a convertible PaiNN model (:func:`allowed_globals`); others are refused.
    """
    torch, spk = import_schnetpack()
    nnp, source = _read_schnetpack(spk, model_or_path, energy_unit, trust_pickle)
    where = f"{source}: "
    rep = nnp.representation
    offsets, widths, cutoff = _check_representation(torch, spk, rep, where)
    layers = _check_energy_head(torch, spk, nnp.output_modules, energy_key, where)
    config = _painn_config(rep, len(offsets), cutoff, layers)
    params = _painn_params(rep, layers, config)
    shift, atomref = _energy_offsets(spk, nnp, energy_key, config.max_z, where)
    to_ev = ENERGY_UNITS_IN_EV[energy_unit]
    constants = {
        "scale": np.asarray(to_ev),
        "shift": np.asarray(shift * to_ev),
        "atomref": atomref * to_ev,
        # SchNetPack's own (float32) centres and widths, not recomputed ones: exact in float64.
        "representation": {"rbf_centers": offsets, "rbf_widths": widths},
    }
    # The source's precision (float32 for SchNetPack; upcasting to float64 later is exact).
    dtype = np.float64 if rep.filter_net.weight.dtype == torch.float64 else np.float32
    variables = _in_painnjax_layout(config, {"params": params, "constants": constants}, dtype, where)
    meta = {
        "elements": None if elements is None else sorted(int(z) for z in elements),
        "energy_reference": {"kind": "total"},
        "source": f"converted from SchNetPack ({source}, energy unit {energy_unit})",
    }
    return Model(config, variables, meta)


def _read_schnetpack(spk, model_or_path, energy_unit: str, trust_pickle: bool):
    """The SchNetPack model (read from its file when given a path) and the name of its source.

    Refuses a ``state_dict``, an unknown ``energy_unit``, anything but a ``NeuralNetworkPotential``
    and input modules other than ``PairwiseDistances`` (or ``Strain``).
    """
    source = "SchNetPack model"
    nnp = model_or_path
    if isinstance(model_or_path, (str, os.PathLike)):
        source = str(model_or_path)
        nnp = load_schnetpack_file(model_or_path, trust_pickle=trust_pickle)
    where = f"{source}: "
    if isinstance(nnp, dict):
        raise ConversionError(
            f"{where}holds a state_dict, which has no architecture; save the whole model "
            "(torch.save(model, path)) as SchNetPack's trainer does"
        )
    if energy_unit not in ENERGY_UNITS_IN_EV:
        raise ConversionError(f"energy_unit must be one of {sorted(ENERGY_UNITS_IN_EV)}, got {energy_unit!r}")
    if not isinstance(nnp, spk.model.NeuralNetworkPotential):
        raise ConversionError(f"{where}expected a schnetpack.model.NeuralNetworkPotential, got {type(nnp).__name__}")
    for m in nnp.input_modules:
        if not isinstance(m, (spk.atomistic.PairwiseDistances, spk.atomistic.Strain)):
            raise ConversionError(f"{where}input module {type(m).__name__} cannot be carried (only PairwiseDistances)")
    return nnp, source


def _check_representation(torch, spk, rep, where: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Refuse a representation painnjax's PaiNN cannot carry; returns the RBF centres and widths and the cutoff (Å)."""
    if not isinstance(rep, spk.representation.PaiNN):
        raise ConversionError(f"{where}representation {type(rep).__name__} is not PaiNN")
    if len(rep.electronic_embeddings) > 0:
        raise ConversionError(f"{where}PaiNN electronic embeddings (charge/spin) cannot be carried")
    if type(rep.embedding) is not torch.nn.Embedding:
        raise ConversionError(
            f"{where}nuclear embedding {type(rep.embedding).__name__} cannot be carried (only nn.Embedding)"
        )
    rbf = rep.radial_basis
    if type(rbf) is not spk.nn.GaussianRBF:
        raise ConversionError(f"{where}radial basis {type(rbf).__name__} cannot be carried (only GaussianRBF)")
    offsets, widths = _np(rbf.offsets), _np(rbf.widths)
    n_rbf, rbf_cutoff = len(offsets), float(offsets[-1])
    if not (
        np.allclose(offsets, np.linspace(0.0, rbf_cutoff, n_rbf), atol=1e-6)
        and np.allclose(widths, offsets[1] - offsets[0], atol=1e-6)
    ):
        raise ConversionError(f"{where}GaussianRBF offsets/widths are not the default evenly spaced ones from 0")
    if type(rep.cutoff_fn) is not spk.nn.CosineCutoff:
        raise ConversionError(
            f"{where}cutoff function {type(rep.cutoff_fn).__name__} cannot be carried (only CosineCutoff)"
        )
    cutoff = float(_np(rep.cutoff_fn.cutoff).reshape(-1)[0])
    if abs(cutoff - rbf_cutoff) > 1e-6:
        raise ConversionError(f"{where}RBF range {rbf_cutoff} Å differs from the cutoff {cutoff} Å")
    if not _is_silu(rep.interactions[0].interatomic_context_net[0].activation, torch):
        raise ConversionError(f"{where}PaiNN activation is not SiLU")
    return offsets, widths, cutoff


def _check_energy_head(torch, spk, output_modules, energy_key: str, where: str) -> list:
    """The layers of the one ``Atomwise`` head named ``energy_key`` (a sum of one SiLU-net output per atom).

    Refuses output modules other than ``Atomwise`` and ``Forces``.
    """
    heads = [m for m in output_modules if isinstance(m, spk.atomistic.Atomwise)]
    for m in output_modules:
        if not isinstance(m, (spk.atomistic.Atomwise, spk.atomistic.Forces)):
            raise ConversionError(f"{where}output module {type(m).__name__} cannot be carried")
    heads = [m for m in heads if m.output_key == energy_key]
    if len(heads) != 1:
        raise ConversionError(f"{where}expected one Atomwise head with output_key {energy_key!r}, found {len(heads)}")
    head = heads[0]
    if head.aggregation_mode != "sum" or head.n_out != 1:
        raise ConversionError(
            f"{where}Atomwise head must sum one output per atom (got {head.aggregation_mode!r}, n_out={head.n_out})"
        )
    layers = list(head.outnet)
    for k, layer in enumerate(layers[:-1]):
        if not _is_silu(layer.activation, torch):
            raise ConversionError(f"{where}Atomwise layer {k} activation is not SiLU")
    return layers


def _painn_config(rep, n_rbf: int, cutoff: float, layers) -> PaiNNConfig:
    """The painnjax config of a checked SchNetPack PaiNN and its readout ``layers``."""
    T = rep.n_interactions
    shared_interactions = T > 1 and rep.interactions[0] is rep.interactions[1]
    sizes = tuple(int(layer.out_features) for layer in layers)
    F = rep.n_atom_basis
    return PaiNNConfig(
        n_atom_basis=F,
        n_interactions=T,
        n_rbf=n_rbf,
        cutoff=cutoff,
        shared_interactions=shared_interactions,
        shared_filters=bool(rep.share_filters),
        epsilon=float(rep.mixing[0].epsilon),
        max_z=int(rep.embedding.num_embeddings),
        readout_hidden=None if sizes == PaiNNConfig(n_atom_basis=F).readout_sizes else sizes[:-1],
    )


def _painn_params(rep, layers, config: PaiNNConfig) -> dict:
    """The SchNetPack weights as painnjax's ``params`` (float64 arrays; torch's kernels transposed)."""
    rep_params = {
        "embedding": {"embedding": _np(rep.embedding.weight)},
        "filter_net_kernel": _np(rep.filter_net.weight).T,
        "filter_net_bias": _np(rep.filter_net.bias),
    }
    for t in range(1 if config.shared_interactions else config.n_interactions):
        inter, mix = rep.interactions[t], rep.mixing[t]
        rep_params[f"interactions_{t}"] = {
            "context_0": _dense(inter.interatomic_context_net[0], f"interactions.{t}.0"),
            "context_1": _dense(inter.interatomic_context_net[1], f"interactions.{t}.1"),
        }
        rep_params[f"mixing_{t}"] = {
            "context_0": _dense(mix.intraatomic_context_net[0], f"mixing.{t}.0"),
            "context_1": _dense(mix.intraatomic_context_net[1], f"mixing.{t}.1"),
            "mu_channel_mix": _dense(mix.mu_channel_mix, f"mixing.{t}.mu_channel_mix", bias=False),
        }
    readout = {f"layers_{k}": _dense(layer, f"outnet.{k}") for k, layer in enumerate(layers)}
    return {"representation": rep_params, "readout": readout}


def _energy_offsets(spk, nnp, energy_key: str, max_z: int, where: str) -> tuple[float, np.ndarray]:
    """What the postprocessors add to the energy, in the model's unit: a per-atom ``shift`` and ``atomref`` per element.

    Casts are passed over; any postprocessor other than an extensive ``AddOffsets`` is refused.
    """
    shift, atomref = 0.0, np.zeros(max_z)
    if not nnp.do_postprocessing:
        return shift, atomref
    for p in nnp.postprocessors:
        if isinstance(p, (spk.transform.CastTo64, spk.transform.CastTo32)):
            continue
        if isinstance(p, spk.transform.AddOffsets):
            if p._property != energy_key:
                continue
            if not p.is_extensive:
                raise ConversionError(
                    f"{where}AddOffsets with is_extensive=False cannot be carried (energy is extensive)"
                )
            if p.add_mean:
                shift += float(_np(p.mean).reshape(-1)[0])
            if p.add_atomrefs:
                ref = _np(p.atomref).reshape(-1)
                atomref[: min(len(ref), max_z)] += ref[:max_z]
            continue
        raise ConversionError(
            f"{where}postprocessor {type(p).__name__} cannot be carried"
            + (
                " (SchNetPack scales the energy after computing forces, so its forces are unscaled)"
                if isinstance(p, spk.transform.ScaleProperty)
                else ""
            )
        )
    return shift, atomref


def _in_painnjax_layout(config: PaiNNConfig, variables: dict, dtype, where: str) -> dict:
    """``variables`` as arrays of ``dtype`` in the shapes painnjax's model of ``config`` has."""
    template = jax.eval_shape(lambda: init_variables(config))  # shapes only, no weights made
    try:
        return jax.tree_util.tree_map(lambda t, v: np.asarray(v, dtype).reshape(t.shape), template, variables)
    except (ValueError, TypeError) as exc:  # pragma: no cover - guards against SchNetPack changes
        raise ConversionError(f"{where}weights do not fit the painnjax layout ({exc})") from None


def _to_torch(torch, x, dtype):
    return torch.from_numpy(np.array(x, np.float64)).to(dtype)  # a copy: model arrays may be read-only


def _copy_dense(torch, layer, params: dict, dtype) -> None:
    layer.weight.copy_(_to_torch(torch, params["kernel"], dtype).T)
    if "bias" in params:
        layer.bias.copy_(_to_torch(torch, params["bias"], dtype))


def to_schnetpack(model, path=None):
    """A SchNetPack 2.1.1 ``NeuralNetworkPotential`` with the weights of a painnjax model.

    The reverse of :func:`from_schnetpack`: ``PairwiseDistances`` input module, a
    ``schnetpack.representation.PaiNN`` (``nn.Embedding``, ``GaussianRBF`` with the model's own
    centres and widths, ``CosineCutoff``, SiLU, shared interactions/filters as in the config),
    an ``Atomwise`` head with ``output_key="energy"`` and ``Forces`` (``force_key="forces"``),
    in eval mode. Energies are eV and lengths Å, as in painnjax: with SchNetPack's ASE
    calculator pass ``energy_unit="eV"`` (its default is kcal/mol).

    painnjax's energy ``scale * sum_i y_i + sum_i (shift + atomref[Z_i])`` is carried as:
    ``scale`` folded into the last readout layer (SchNetPack's ``ScaleProperty`` would scale
    the energy after the forces are taken, leaving the forces unscaled), and ``shift``
    (per atom) and ``atomref`` as ``CastTo64`` + ``AddOffsets("energy", add_mean=True,
    add_atomrefs=True, is_extensive=True)`` postprocessors with float64 ``mean``/``atomref``
    buffers (left out when both are zero). ``do_postprocessing`` is on.

    The module is float32 unless the painnjax weights are float64. SchNetPack has no place
    for the model's ``elements`` or other metadata: it does not check its inputs' elements.

    Args:
        model: a :class:`painnjax.Model`, a model file, or a bundled model name ("saam-gfn1").
        path: if given, the whole module is ``torch.save``d there (what SchNetPack's
            ``SpkCalculator`` and ``schnetpack.utils.load_model`` read).

    Returns:
        the ``schnetpack.model.NeuralNetworkPotential`` (``torch.nn.Module``).
    """
    model = load_model(model)  # here, not in a helper: its warnings' stacklevel is set for this depth
    torch, spk = import_schnetpack()
    weights = _checked_weights(model)
    dtype = torch.float64 if weights.float64 else torch.float32
    nnp = _schnetpack_model(torch, spk, model.config, weights, dtype)
    with torch.no_grad():
        _copy_weights(torch, nnp, model.config, weights, dtype)
    nnp.eval()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(nnp, path)
    return nnp


@dataclass(frozen=True)
class _PainnWeights:
    """A painnjax model's weights, checked against its config, as :func:`to_schnetpack` carries them.

    ``representation`` and ``readout``: the ``params`` in painnjax's layout; the constants as
    float64 (``atomref`` per element, ``centers``/``widths`` of the Gaussian radial basis, Å);
    ``float64``: whether the kernels are float64 (else the SchNetPack module is float32).
    """

    representation: dict
    readout: dict
    scale: float
    shift: float
    atomref: np.ndarray
    centers: np.ndarray
    widths: np.ndarray
    float64: bool


def _checked_weights(model) -> _PainnWeights:
    """``model``'s weights in exactly the layout its config implies, with finite constants and nonzero widths."""
    c = model.config
    template = jax.eval_shape(lambda: init_variables(c))
    try:
        variables = jax.tree_util.tree_map(
            lambda t, v: np.asarray(v).reshape(t.shape) if np.shape(v) == t.shape else _bad_shape(t, v),
            template,
            model.variables,
        )
    except (ValueError, TypeError) as exc:
        raise ConversionError(f"the painnjax weights do not match the config {c} ({exc})") from None
    params, consts = variables["params"], variables["constants"]
    rep_p = params["representation"]
    float64 = np.asarray(rep_p["filter_net_kernel"]).dtype == np.float64

    scale = float(np.asarray(consts["scale"], np.float64))
    shift = float(np.asarray(consts["shift"], np.float64))
    atomref = np.asarray(consts["atomref"], np.float64).reshape(-1)
    centers = np.asarray(consts["representation"]["rbf_centers"], np.float64)
    widths = np.asarray(consts["representation"]["rbf_widths"], np.float64)
    for name, value in (
        ("scale", scale),
        ("shift", shift),
        ("atomref", atomref),
        ("rbf_centers", centers),
        ("rbf_widths", widths),
    ):
        if not np.all(np.isfinite(value)):
            raise ConversionError(f"the painnjax constant {name} is not finite")
    if np.any(widths == 0):
        raise ConversionError("a Gaussian radial basis width is zero")
    return _PainnWeights(rep_p, params["readout"], scale, shift, atomref, centers, widths, float64)


def _schnetpack_model(torch, spk, c: PaiNNConfig, weights: _PainnWeights, dtype):
    """SchNetPack's ``NeuralNetworkPotential`` for config ``c`` in ``dtype``, with ``weights``' energy offsets."""
    rep = spk.representation.PaiNN(
        n_atom_basis=c.n_atom_basis,
        n_interactions=c.n_interactions,
        radial_basis=spk.nn.GaussianRBF(n_rbf=c.n_rbf, cutoff=c.cutoff),
        cutoff_fn=spk.nn.CosineCutoff(c.cutoff),
        activation=torch.nn.functional.silu,
        shared_interactions=c.shared_interactions,
        shared_filters=c.shared_filters,
        epsilon=c.epsilon,
        nuclear_embedding=torch.nn.Embedding(c.max_z, c.n_atom_basis),
    )
    sizes = c.readout_sizes
    head = spk.atomistic.Atomwise(
        n_in=c.n_atom_basis,
        n_out=1,
        n_hidden=None if c.readout_hidden is None else list(c.readout_hidden),
        n_layers=len(sizes),
        aggregation_mode="sum",
        output_key="energy",
    )
    nnp = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[head, spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        postprocessors=_energy_postprocessors(torch, spk, weights.shift, weights.atomref, c.max_z),
        input_dtype_str="float64" if dtype == torch.float64 else "float32",
        do_postprocessing=True,
    )
    rep.to(dtype)
    head.to(dtype)
    layers = list(head.outnet)
    if tuple(int(m.out_features) for m in layers) != tuple(sizes):  # pragma: no cover - guards SchNetPack changes
        raise ConversionError(f"SchNetPack built readout sizes {[m.out_features for m in layers]}, not {sizes}")
    return nnp


def _energy_postprocessors(torch, spk, shift: float, atomref: np.ndarray, max_z: int) -> list:
    """``CastTo64`` and ``AddOffsets`` adding the per-atom ``shift`` and the ``atomref``s (none when both are zero)."""
    if not (shift != 0.0 or np.any(atomref != 0.0)):
        return []
    # SchNetPack 2.1.1's AddOffsets(atomrefs=<tensor>) fails (`atomrefs or zeros` on a
    # tensor) and property_mean=tensor(0.) is silently dropped: set the buffers afterwards.
    # is_extensive=True adds mean * n_atoms, i.e. ``mean`` is painnjax's per-atom shift.
    offsets = spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True, is_extensive=True, zmax=max_z)
    offsets.mean = torch.tensor([shift], dtype=torch.float64)
    offsets.atomref = torch.from_numpy(atomref.copy())
    # Nothing a datamodule brings may replace them (AtomisticModel.initialize_transforms).
    offsets._mean_initialized = offsets._atomrefs_initialized = True
    # Offsets added in float64, as SchNetPack advises (the energies are totals, 100s of eV).
    return [spk.transform.CastTo64(), offsets]


def _copy_weights(torch, nnp, c: PaiNNConfig, weights: _PainnWeights, dtype) -> None:
    """Copy ``weights`` into the SchNetPack model built by :func:`_schnetpack_model` (under ``torch.no_grad``).

    ``scale`` is folded into the last readout layer, in float64 and then rounded once to ``dtype``.
    """
    rep, rep_p = nnp.representation, weights.representation
    rep.embedding.weight.copy_(_to_torch(torch, rep_p["embedding"]["embedding"], dtype))
    rep.filter_net.weight.copy_(_to_torch(torch, rep_p["filter_net_kernel"], dtype).T)
    rep.filter_net.bias.copy_(_to_torch(torch, rep_p["filter_net_bias"], dtype))
    rep.radial_basis.offsets.copy_(_to_torch(torch, weights.centers, dtype))
    rep.radial_basis.widths.copy_(_to_torch(torch, weights.widths, dtype))
    for t in range(1 if c.shared_interactions else c.n_interactions):
        inter, mix = rep.interactions[t], rep.mixing[t]
        ip, mp = rep_p[f"interactions_{t}"], rep_p[f"mixing_{t}"]
        _copy_dense(torch, inter.interatomic_context_net[0], ip["context_0"], dtype)
        _copy_dense(torch, inter.interatomic_context_net[1], ip["context_1"], dtype)
        _copy_dense(torch, mix.intraatomic_context_net[0], mp["context_0"], dtype)
        _copy_dense(torch, mix.intraatomic_context_net[1], mp["context_1"], dtype)
        _copy_dense(torch, mix.mu_channel_mix, mp["mu_channel_mix"], dtype)
    layers = list(nnp.output_modules[0].outnet)
    for k, layer in enumerate(layers):
        p = weights.readout[f"layers_{k}"]
        if k == len(layers) - 1:  # scale folded in (in float64, then rounded once)
            p = {
                "kernel": np.asarray(p["kernel"], np.float64) * weights.scale,
                "bias": np.asarray(p["bias"], np.float64) * weights.scale,
            }
        _copy_dense(torch, layer, p, dtype)


def _bad_shape(template, value):
    raise ValueError(f"an array of shape {np.shape(value)} where {template.shape} is expected")
