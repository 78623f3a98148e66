#!/usr/bin/env python
"""`painnjax thermo --rrho` against ASE's IdealGasThermo on the same frequencies, for a real cluster.

Usage: python benchmarks/audit/thermo_vs_ase.py MODEL STRUCTURE [T ...]
Runs `painnjax thermo MODEL STRUCTURE --rrho --T ... --json` in a temporary folder, then feeds the
frequencies it wrote to ase.thermochemistry.IdealGasThermo (nonlinear, symmetry number 1, spin 0,
101325 Pa, the same potential energy) and prints the largest |H|, |S·T| and |G| differences in eV.
Exit status 1 if any exceeds 1e-4 eV.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from ase.io import read
from ase.thermochemistry import IdealGasThermo
from ase.units import invcm


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    model, structure, *temps = argv
    temps = [float(t) for t in temps] or [298.15]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "thermo.json"
        cmd = [
            "painnjax",
            "thermo",
            model,
            structure,
            "--rrho",
            "--no-binding",
            "--json",
            str(out),
            "--T",
            *map(str, temps),
        ]
        subprocess.run(cmd, check=True)
        data = json.loads(out.read_text())
    atoms = read(structure, index=0)
    worst = 0.0
    for rec in data["structures"]:
        freqs = np.asarray(rec["frequencies_cm-1"])
        ase = IdealGasThermo(
            freqs[freqs > 0] * invcm,
            geometry="nonlinear",
            potentialenergy=rec["energy_eV"],
            atoms=atoms,
            symmetrynumber=1,
            spin=0,
            ignore_imag_modes=True,
        )
        for t in rec["temperatures"]:
            T = t["T_K"]
            dH = abs(t["H_eV"] - ase.get_enthalpy(T, verbose=False))
            dTS = abs(T * t["S_eV_per_K"] - T * ase.get_entropy(T, 101325.0, verbose=False))
            dG = abs(t["G_eV"] - ase.get_gibbs_energy(T, 101325.0, verbose=False))
            print(f"T = {T:.2f} K: |ΔH| {dH:.2e} eV, |TΔS| {dTS:.2e} eV, |ΔG| {dG:.2e} eV")
            worst = max(worst, dH, dTS, dG)
    print(f"largest difference {worst:.2e} eV ({'within' if worst < 1e-4 else 'OUTSIDE'} 1e-4 eV)")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
