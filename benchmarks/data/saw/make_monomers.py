"""SA, AM and W monomer minima at GFN1-xTB and GFN2-xTB: the references of SA–W binding energies.

Writes ``painnjax/data/gfn1-monomers.extxyz`` and ``painnjax/data/gfn2-monomers.extxyz``
(one frame per molecule: the geometry optimised at that level, its energy in eV and forces in
eV/Å, as ``saam-gfn1-monomers.extxyz``), named by their stem wherever a monomer file is read
(``[data] monomers = "gfn2-monomers"``). tblite 0.8.0, default accuracy (as the frames of
``round*_gfn1_gfn2.extxyz.gz``); ASE's BFGS to fmax 1e-4 eV/Å. At GFN1-xTB, SA and AM are the
bundled ``saam-gfn1-monomers`` frames as they are (the references of every SA–AM model, so that
SA–AM binding energies stay the same to the last digit) and only W is optimised; at GFN2-xTB all
three are optimised, from those minima and an ideal water. Run from the repository root:

    python benchmarks/data/saw/make_monomers.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.optimize import BFGS
from tblite.ase import TBLite

OUT = Path("painnjax/data")
START = read(OUT / "saam-gfn1-monomers.extxyz", ":")
WATER = Atoms("OH2", positions=[[0.0, 0.0, 0.12], [0.0, 0.76, -0.47], [0.0, -0.76, -0.47]])
FMAX = 1e-4  # eV/Å


def starts() -> dict[str, Atoms]:
    by_name = {a.info["name"]: a for a in START}
    return {"SA": by_name["SA"], "AM": by_name["AM"], "W": WATER}


def minimum(atoms: Atoms, method: str) -> Atoms:
    atoms = Atoms(atoms.numbers, atoms.positions)
    atoms.calc = TBLite(method=method, verbosity=0)
    BFGS(atoms, logfile=None).run(fmax=FMAX, steps=500)
    forces = atoms.get_forces()
    assert np.abs(forces).max() < 10 * FMAX, f"{method}: not converged"
    energy = atoms.get_potential_energy()
    out = Atoms(atoms.numbers, atoms.positions)  # energy and forces only (no charges, dipole)
    out.calc = SinglePointCalculator(out, energy=energy, forces=forces)
    return out


def as_stored(atoms: Atoms) -> Atoms:
    """A bundled minimum as it is: positions, energy and forces of the file."""
    out = Atoms(atoms.numbers, atoms.positions)
    out.calc = SinglePointCalculator(out, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
    return out


def main() -> None:
    for method, tag in (("GFN1-xTB", "gfn1"), ("GFN2-xTB", "gfn2")):
        frames = []
        for name, start in starts().items():
            atoms = as_stored(start) if (tag == "gfn1" and name != "W") else minimum(start, method)
            atoms.info.update({"name": name, "level": method, "composition": name})
            frames.append(atoms)
            print(f"{method} {name}: E = {atoms.get_potential_energy():.8f} eV")
        write(OUT / f"{tag}-monomers.extxyz", frames, format="extxyz")


if __name__ == "__main__":
    main()
