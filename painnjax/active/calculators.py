"""What computes a frame's label: a :class:`Labeller` -- tblite's xTB, PySCF, or any ASE calculator.

:func:`painnjax.active.label.label_file` reads, resumes, locks and parallelises; a labeller only
computes one frame. It has a ``level`` (written to each frame's ``info["level"]`` and checked
when a run resumes), ``forces`` (False: energies only) and is called as
``labeller(atoms, charge, uhf) -> (energy eV, forces eV/Å or None)``; it raises on a failed
single point (:class:`LabelFailure` or whatever the program raised), which
:func:`~painnjax.active.label.label_file` records as that frame's ``label_error``. Labellers are
frozen dataclasses of plain values, so they travel to worker processes and Dask workers.

:func:`parse_calculator` makes one from the ``--calculator SPEC`` of ``painnjax label``:

- ``GFN2-xTB`` or ``tblite:GFN2-xTB``: tblite (:class:`TBLiteLabeller`);
- ``pyscf:METHOD/BASIS[,KEY=VALUE...]`` or ``pyscf:method=M,basis=B[,...]``: PySCF
  (:class:`PySCFLabeller`; keys ``density_fit``, ``max_cycle``, ``conv_tol``, ``grids``,
  ``forces``, ``level``);
- ``ase:MODULE.CLASS[,KEY=VALUE...]``: an ASE calculator class (:class:`ASELabeller`); ``command``,
  ``profile``, ``level``, ``charge_key``, ``mult_key``, ``forces`` and ``scratch`` are painnjax's
  keys, every other key is a keyword argument of the class. Only classes of
  ``ase.calculators.*`` unless ``trust=True`` (``--trust-calculator``): the spec names code
  that is imported and run.
- a ``.toml`` or ``.json`` file with the same keys: ``program`` (``"pyscf"``, ``"ase"`` or
  ``"tblite"``), for ASE ``class`` and a ``kwargs`` table.

Values in a spec are numbers, ``true``/``false``/``none`` or text (quotes optional); commas
inside brackets (``6-31++G(d,p)``) do not split.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shlex
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import units

from painnjax.errors import InputError

METHODS = ("GFN1-xTB", "GFN2-xTB", "IPEA1-xTB")
INSTALL_HINT = "pip install 'painnjax[xtb]'"
PYSCF_HINT = "pip install 'painnjax[pyscf]'"


class LabelFailure(RuntimeError):
    """A single point that gave no label (its message becomes the frame's ``label_error``)."""


class Labeller:
    """What computes one frame: ``level``, ``forces``, :meth:`check_frames` and ``__call__``."""

    forces: bool = True

    @property
    def level(self) -> str:  # pragma: no cover - every labeller defines it
        raise NotImplementedError

    def check_frames(self, frames) -> None:
        """An :class:`InputError` naming the first frame this labeller cannot compute (before any
        single point). ``frames``: objects with ``atoms``, ``charge``, ``uhf`` and ``where``."""

    def __call__(self, atoms, charge, uhf: int):  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# tblite


def check_method(method: str) -> str:
    """The canonical spelling of ``method`` (case-insensitive), or an :class:`InputError` listing them."""
    for m in METHODS:
        if isinstance(method, str) and method.lower() == m.lower():
            return m
    raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def tblite_calculator_class():
    """``tblite.ase.TBLite``, or an :class:`InputError` telling how to install it."""
    try:  # imported here: tblite is an optional extra (painnjax[xtb])
        from tblite.ase import TBLite
    except ImportError as exc:
        raise InputError(f"xTB labels need tblite, which is not installed ({exc}); {INSTALL_HINT}") from None
    return TBLite


@dataclass(frozen=True)
class TBLiteLabeller(Labeller):
    """GFN-xTB single points with tblite's ASE calculator, a fresh one per frame."""

    method: str = "GFN1-xTB"
    accuracy: float = 1.0
    electronic_temperature: float = 300.0
    max_iterations: int = 250

    def __post_init__(self):
        object.__setattr__(self, "method", check_method(self.method))
        ok = self.accuracy > 0 and self.electronic_temperature >= 0 and self.max_iterations >= 1
        if not ok:
            raise InputError(
                f"tblite settings must be positive: accuracy={self.accuracy}, electronic_temperature="
                f"{self.electronic_temperature}, max_iterations={self.max_iterations}"
            )
        tblite_calculator_class()

    @property
    def level(self) -> str:
        return self.method

    def check_frames(self, frames) -> None:
        for fr in frames:
            z = fr.atoms.numbers
            if (z < 1).any() or (z > 86).any():
                i = int(np.argmax((z < 1) | (z > 86)))
                raise InputError(
                    f"{fr.where}: atom {i}: element Z={int(z[i])} is not parametrised in GFN-xTB (Z = 1..86)"
                )

    def __call__(self, atoms, charge, uhf: int):
        calc = tblite_calculator_class()(
            method=self.method,
            charge=charge,
            multiplicity=uhf + 1,
            verbosity=0,
            accuracy=float(self.accuracy),
            electronic_temperature=float(self.electronic_temperature),
            max_iterations=int(self.max_iterations),
        )
        calc.calculate(atoms, ["energy", "forces"])
        return float(calc.results["energy"]), np.array(calc.results["forces"], np.float64)


# --------------------------------------------------------------------------------------------
# PySCF

#: Hartree/Bohr -> eV/Å
HARTREE_PER_BOHR = units.Hartree / units.Bohr
_HF = ("hf", "rhf", "uhf", "scf")


def _import_pyscf():
    try:  # imported here: PySCF is an optional extra (painnjax[pyscf])
        import pyscf  # noqa: F401
        from pyscf import dft, gto, scf
    except ImportError as exc:
        raise InputError(f"PySCF labels need pyscf, which is not installed ({exc}); {PYSCF_HINT}") from None
    return gto, scf, dft


def _check_pyscf_method(method: str) -> None:
    """An :class:`InputError` for a method PySCF cannot run (an unknown functional, ωB97X-D)."""
    if method.lower() in _HF:
        return
    from pyscf.dft import libxc
    from pyscf.scf.dispersion import parse_dft

    try:
        xc, _, disp = parse_dft(method)
    except NotImplementedError as exc:
        raise InputError(
            f"PySCF cannot run {method!r} ({exc}): it has no Chai-Head-Gordon dispersion of ωB97X-D; "
            "use ORCA or Gaussian through --calculator ase:... for ωB97X-D labels, or in PySCF wb97x-d3bj "
            "(ωB97X-V's functional with D3(BJ); needs pyscf-dispersion) or hyb_gga_xc_wb97x_d (ωB97X-D's "
            "functional without its dispersion term); see docs/labels.md"
        ) from None
    try:
        libxc.parse_xc(xc)
    except (KeyError, ValueError) as exc:
        raise InputError(f"PySCF does not know the functional {method!r} ({exc})") from None
    if disp:
        try:
            import pyscf.dispersion  # noqa: F401
        except ImportError:
            raise InputError(
                f"{method!r} has a dispersion correction ({disp}), which PySCF computes with pyscf-dispersion: "
                "pip install pyscf-dispersion"
            ) from None


@dataclass(frozen=True)
class PySCFLabeller(Labeller):
    """Single points with PySCF: HF or any functional it has (RKS/UKS by the frame's spin).

    Energies Hartree -> eV, gradients Hartree/Bohr -> forces eV/Å (with the sign). A frame whose
    SCF has not converged in ``max_cycle`` iterations is a failure (:class:`LabelFailure`).
    """

    method: str = "hf"
    basis: str = "sto-3g"
    density_fit: bool | str = False  # True, or the auxiliary basis
    max_cycle: int = 50
    conv_tol: float = 1e-9
    grids: int | None = None  # PySCF's grids.level (default 3)
    forces: bool = True
    level_name: str | None = None

    def __post_init__(self):
        for key in ("method", "basis"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise InputError(f"pyscf: {key} must be a name, got {getattr(self, key)!r}")
        if isinstance(self.max_cycle, bool) or not isinstance(self.max_cycle, int) or self.max_cycle < 1:
            raise InputError(f"pyscf: max_cycle must be a whole number >= 1, got {self.max_cycle!r}")
        if isinstance(self.conv_tol, bool) or not isinstance(self.conv_tol, (int, float)) or not self.conv_tol > 0:
            raise InputError(f"pyscf: conv_tol must be a positive number, got {self.conv_tol!r}")
        if self.grids is not None and (
            isinstance(self.grids, bool) or not isinstance(self.grids, int) or not 0 <= self.grids <= 9
        ):
            raise InputError(f"pyscf: grids must be a grid level 0 to 9, got {self.grids!r}")
        if not isinstance(self.density_fit, bool) and not (isinstance(self.density_fit, str) and self.density_fit):
            raise InputError(
                f"pyscf: density_fit must be true, false or an auxiliary basis name, got {self.density_fit!r}"
            )
        _check_common(self, "pyscf")
        _import_pyscf()
        _check_pyscf_method(self.method)

    @property
    def level(self) -> str:
        if self.level_name:
            return self.level_name
        df = ", density fitting" if self.density_fit else ""
        return f"{self.method}/{self.basis} (PySCF{df})"

    def check_frames(self, frames) -> None:
        from pyscf.gto import basis as basis_lib

        seen = set()
        for fr in frames:
            if fr.charge != int(fr.charge):
                raise InputError(f"{fr.where}: info charge {fr.charge} is not a whole number (PySCF needs one)")
            for symbol in set(fr.atoms.get_chemical_symbols()) - seen:
                names = [("basis", self.basis)]
                if isinstance(self.density_fit, str):
                    names.append(("auxiliary basis (density_fit)", self.density_fit))
                for what, name in names:
                    try:
                        with warnings.catch_warnings():  # PySCF's advice to install basis-set-exchange
                            warnings.simplefilter("ignore")
                            basis_lib.load(name, symbol)
                    except Exception as exc:  # noqa: BLE001 - PySCF raises BasisNotFoundError, KeyError, RuntimeError
                        raise InputError(
                            f"{fr.where}: the {what} {name!r} has no functions for {symbol} in PySCF "
                            f"({type(exc).__name__})"
                        ) from None
                seen.add(symbol)

    def molecule(self, atoms, charge, uhf: int):
        """The ``pyscf.gto.Mole`` of ``atoms`` (Å) with this basis, charge and spin (2S = ``uhf``)."""
        gto, _, _ = _import_pyscf()
        return gto.M(
            atom=[(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions.tolist(), strict=True)],
            unit="Angstrom",
            basis=self.basis,
            charge=int(charge),
            spin=int(uhf),
            verbose=0,
        )

    def mean_field(self, mol):
        """The SCF object of ``mol`` with this method and settings (not yet run)."""
        _, scf, dft = _import_pyscf()
        if self.method.lower() in _HF:
            mf = scf.HF(mol)
        else:
            mf = dft.KS(mol, xc=self.method)
            if self.grids is not None:
                mf.grids.level = int(self.grids)
        if self.density_fit:
            mf = mf.density_fit(auxbasis=self.density_fit if isinstance(self.density_fit, str) else None)
        mf.max_cycle = int(self.max_cycle)
        mf.conv_tol = float(self.conv_tol)
        mf.verbose = 0
        return mf

    def __call__(self, atoms, charge, uhf: int):
        mf = self.mean_field(self.molecule(atoms, charge, uhf))
        e = mf.kernel()
        if not mf.converged:
            raise LabelFailure(
                f"SCF not converged in {self.max_cycle} cycles (PySCF, conv_tol {self.conv_tol:g}); "
                "raise max_cycle in the spec and run again with --retry-failed"
            )
        energy = float(e) * units.Hartree
        if not self.forces:
            return energy, None
        grad = mf.nuc_grad_method()
        grad.verbose = 0
        return energy, -np.asarray(grad.kernel(), np.float64) * HARTREE_PER_BOHR


def _check_common(lab, program: str) -> None:
    """The keys every labeller has: ``forces`` a bool, ``level_name`` a text or None."""
    if not isinstance(lab.forces, bool):
        raise InputError(f"{program}: forces must be true or false, got {lab.forces!r}")
    if lab.level_name is not None and not (isinstance(lab.level_name, str) and lab.level_name.strip()):
        raise InputError(f"{program}: level must be a text, got {lab.level_name!r}")


# --------------------------------------------------------------------------------------------
# Any ASE calculator

#: charge and multiplicity keywords of ASE calculators that take them (class name -> keys)
CHARGE_KEYS = {"ORCA": ("charge", "mult"), "Gaussian": ("charge", "mult")}
ASE_PREFIX = "ase.calculators."


def _import_object(path: str, trust: bool, what: str):
    module, _, name = path.rpartition(".")
    if not module or not name:
        raise InputError(f"{what} {path!r}: give it as module.Class, e.g. ase.calculators.orca.ORCA")
    if not trust and not path.startswith(ASE_PREFIX):
        raise InputError(
            f"{what} {path!r} is not in ase.calculators: painnjax imports and runs only ASE's own calculators "
            "unless --trust-calculator (trust=True) is given for a class you trust"
        )
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"{what} {path!r} cannot be imported ({type(exc).__name__}: {exc})") from None


def _profile_class(cls, profile: str | None, trust: bool):
    from ase.calculators.genericfileio import BaseProfile

    if profile:
        return _import_object(profile, trust, "profile")
    module = importlib.import_module(cls.__module__)
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, BaseProfile)
        and v is not BaseProfile
        and v.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise InputError(
            f"{cls.__name__}: cannot tell which ASE profile takes its command ({len(found)} in {module.__name__}); "
            "name it with profile=MODULE.CLASS"
        )
    return found[0]


@dataclass(frozen=True)
class ASELabeller(Labeller):
    """Single points with an ASE calculator class, a fresh one per frame, in its own scratch folder.

    ``kwargs`` go to the class; ``command`` is the program to run (a file-IO calculator's
    ``command``, or the ``command`` of the profile of an ASE >= 3.23 calculator such as ORCA,
    whose profile class is ``profile`` or the one profile class of the calculator's module;
    without it ASE's configuration file is used). Charge and multiplicity go in as
    ``charge_key``/``mult_key`` (known for ORCA and Gaussian). The folder of a frame that
    failed is kept and named in the reason.
    """

    class_path: str
    kwargs: dict = field(default_factory=dict)
    command: str | None = None
    profile: str | None = None
    level_name: str | None = None
    charge_key: str | None = None
    mult_key: str | None = None
    forces: bool = True
    scratch: str | None = None
    trust: bool = False

    def __post_init__(self):
        from ase.calculators.calculator import BaseCalculator, FileIOCalculator
        from ase.calculators.genericfileio import GenericFileIOCalculator

        _check_common(self, "ase")
        for key in ("command", "profile", "charge_key", "mult_key"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise InputError(f"ase: {key} must be a text, got {value!r}")
        if self.scratch is not None and not Path(self.scratch).is_dir():
            raise InputError(f"ase: scratch {self.scratch!r} is not an existing folder")
        cls = self.calculator_class()
        if not (isinstance(cls, type) and issubclass(cls, (BaseCalculator, GenericFileIOCalculator))):
            raise InputError(f"{self.class_path!r} is not an ASE calculator class")
        if self.command is not None and not issubclass(cls, (FileIOCalculator, GenericFileIOCalculator)):
            raise InputError(f"{self.class_path}: runs no external program, so it takes no command")
        if self.command is not None and issubclass(cls, GenericFileIOCalculator):
            _profile_class(cls, self.profile, self.trust)
        keys = CHARGE_KEYS.get(cls.__name__, (None, None))
        if self.charge_key is None:
            object.__setattr__(self, "charge_key", keys[0])
        if self.mult_key is None:
            object.__setattr__(self, "mult_key", keys[1])

    def calculator_class(self):
        return _import_object(self.class_path, self.trust, "calculator class")

    @property
    def level(self) -> str:
        if self.level_name:
            return self.level_name
        name = self.class_path.rpartition(".")[2]
        kw = self.kwargs
        if "orcasimpleinput" in kw:
            return f"{name}: {kw['orcasimpleinput']}"
        if "method" in kw and "basis" in kw:
            return f"{name}: {kw['method']}/{kw['basis']}"
        return f"{name}({', '.join(f'{k}={kw[k]!r}' for k in sorted(kw))})"

    def check_frames(self, frames) -> None:
        self.check_program()
        for fr in frames:
            if (fr.charge != 0 and not self.charge_key) or (fr.uhf != 0 and not self.mult_key):
                raise InputError(
                    f"{fr.where}: charge {fr.charge}, {fr.uhf} unpaired electrons, but painnjax does not know how "
                    f"{self.class_path} takes them: set charge_key= and mult_key= in the spec"
                )

    def check_program(self) -> None:
        """Refuse a ``command`` whose program (its first word) is not an executable on this machine's
        PATH (or an executable file): otherwise every frame fails alike, each leaving a folder."""
        if self.command is None:
            return
        try:
            words = shlex.split(self.command)
        except ValueError as exc:
            raise InputError(f"ase: command {self.command!r} cannot be split into words ({exc})") from None
        if not words:
            raise InputError("ase: command is empty")
        if shutil.which(words[0]) is None:
            where = "is not an executable file" if os.sep in words[0] else "is not found on PATH"
            raise InputError(f"ase: command {self.command!r}: the program {words[0]!r} {where}")

    def calculator(self, directory: str, charge, uhf: int):
        """A fresh calculator working in ``directory``, for this charge and spin."""
        from ase.calculators.calculator import Calculator, FileIOCalculator
        from ase.calculators.genericfileio import GenericFileIOCalculator

        cls = self.calculator_class()
        kwargs = dict(self.kwargs)
        if self.charge_key:
            kwargs[self.charge_key] = charge
        if self.mult_key:
            kwargs[self.mult_key] = uhf + 1
        if issubclass(cls, (Calculator, GenericFileIOCalculator)):
            kwargs["directory"] = directory
        if self.command is not None:
            if issubclass(cls, GenericFileIOCalculator):
                kwargs["profile"] = _profile_class(cls, self.profile, self.trust)(command=self.command)
            elif issubclass(cls, FileIOCalculator):
                kwargs["command"] = self.command
        return cls(**kwargs)

    def __call__(self, atoms, charge, uhf: int):
        folder = tempfile.mkdtemp(prefix="painnjax-label-", dir=self.scratch)
        try:
            atoms = atoms.copy()
            atoms.calc = self.calculator(folder, charge, uhf)
            energy = float(atoms.get_potential_energy())
            forces = np.array(atoms.get_forces(), np.float64) if self.forces else None
        except Exception as exc:
            reason = str(exc).strip().replace("\n", " ") or type(exc).__name__
            raise LabelFailure(f"{type(exc).__name__}: {reason} (files in {folder})") from None
        shutil.rmtree(folder, ignore_errors=True)
        return energy, forces


# --------------------------------------------------------------------------------------------
# Specs

PYSCF_KEYS = {"method", "basis", "density_fit", "max_cycle", "conv_tol", "grids", "forces", "level"}
ASE_KEYS = {"command", "profile", "level", "charge_key", "mult_key", "forces", "scratch"}


def _split(text: str) -> list[str]:
    """``a=1,b=f(x,y)`` -> ``["a=1", "b=f(x,y)"]``: commas inside brackets or quotes do not split."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _value(text: str):
    """A spec value: a quoted or plain text, a number, true/false/none."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            v = kind(t)
        except ValueError:
            continue
        if kind is int or math.isfinite(v):
            return v
    return t


def _pairs(items: list[str], spec: str) -> dict:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise InputError(f"calculator spec {spec!r}: {item!r} is not KEY=VALUE")
        out[key.strip()] = _value(value)
    return out


def _from_spec_text(spec: str) -> dict:
    program, colon, rest = spec.partition(":")
    program = program.strip().lower()
    if not colon:
        return {"program": "tblite", "method": spec.strip()}
    items = _split(rest)
    if program == "tblite":
        return {"program": "tblite", "method": rest.strip()}
    if program == "pyscf":
        out = {"program": "pyscf"}
        if items and "=" not in items[0]:
            method, slash, basis = items.pop(0).partition("/")
            if not slash:
                raise InputError(f"calculator spec {spec!r}: give METHOD/BASIS, e.g. pyscf:b3lyp/def2-svp")
            out.update(method=method.strip(), basis=basis.strip())
        out.update(_pairs(items, spec))
        return out
    if program == "ase":
        if not items or "=" in items[0]:
            raise InputError(f"calculator spec {spec!r}: give the class first, e.g. ase:ase.calculators.orca.ORCA,...")
        cls = items.pop(0)
        pairs = _pairs(items, spec)
        out = {"program": "ase", "class": cls, "kwargs": {k: v for k, v in pairs.items() if k not in ASE_KEYS}}
        out.update({k: v for k, v in pairs.items() if k in ASE_KEYS})
        return out
    raise InputError(f"calculator spec {spec!r}: start it with pyscf:, ase: or tblite: (see docs/labels.md)")


def _from_file(path: Path) -> dict:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not valid {path.suffix[1:].upper()} ({exc})") from None
    if not isinstance(data, dict) or "program" not in data:
        raise InputError(f'{path}: a calculator file needs program = "pyscf", "ase" or "tblite"')
    return data


def parse_calculator(spec, *, trust: bool = False) -> Labeller:
    """The :class:`Labeller` of a ``--calculator`` spec (see the module doc), or an :class:`InputError`."""
    if isinstance(spec, Labeller):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"calculator spec must be a text, got {spec!r}")
    path = Path(spec)
    if path.suffix.lower() in (".toml", ".json"):
        if not path.is_file():
            raise InputError(f"{path}: calculator file not found")
        data, where = _from_file(path), str(path)
    else:
        data, where = _from_spec_text(spec), repr(spec)
    data = dict(data)
    program = str(data.pop("program")).lower()
    if program == "tblite":
        return TBLiteLabeller(**_known(data, {"method", "accuracy", "electronic_temperature", "max_iterations"}, where))
    if program == "pyscf":
        kw = _known(data, PYSCF_KEYS, where)
        missing = [key for key in ("method", "basis") if key not in kw]
        if missing:  # no silent default level of theory
            raise InputError(
                f"calculator {where}: give the {' and the '.join(missing)} "
                "(pyscf:METHOD/BASIS, e.g. pyscf:b3lyp/def2-svp)"
            )
        if "level" in kw:
            kw["level_name"] = kw.pop("level")
        return PySCFLabeller(**kw)
    if program == "ase":
        cls = data.pop("class", None)
        if not isinstance(cls, str):
            raise InputError(f'calculator {where}: ase needs class = "MODULE.CLASS"')
        kwargs = data.pop("kwargs", {})
        if not isinstance(kwargs, dict):
            raise InputError(f"calculator {where}: kwargs must be a table of keyword arguments")
        kw = _known(data, ASE_KEYS, where)
        if "level" in kw:
            kw["level_name"] = kw.pop("level")
        return ASELabeller(class_path=cls, kwargs=kwargs, trust=trust, **kw)
    raise InputError(f"calculator {where}: unknown program {program!r}; use pyscf, ase or tblite")


def _known(data: dict, keys: set, where: str) -> dict:
    unknown = sorted(set(data) - keys)
    if unknown:
        raise InputError(f"calculator {where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")
    return data


__all__ = [
    "INSTALL_HINT",
    "METHODS",
    "ASELabeller",
    "LabelFailure",
    "Labeller",
    "PySCFLabeller",
    "TBLiteLabeller",
    "check_method",
    "parse_calculator",
    "tblite_calculator_class",
]
