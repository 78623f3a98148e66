#!/usr/bin/env python
"""Ship a retrained saam-gfn1: the run's best model with its name, a description and its
training record, paths of the machine that trained it rewritten relative to the repository.

    python benchmarks/data/n7-9/ship_model.py RUN/best.painn [painnjax/models/saam-gfn1.painn]
    python benchmarks/data/n7-9/ship_model.py RUN/best.painn painnjax/models/NAME.painn \
        --name NAME --description-file FILE      # another bundled model (the water model: FILE
                                                 # benchmarks/data/saw/description.txt)

Weights and the training record's numbers are not touched (the file is written again with
``painnjax.save_model``, which checksums it).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from painnjax.io.modelfile import load_model, save_model

ROOT = Path(__file__).resolve().parents[3]

DESCRIPTION = (
    "PaiNN (SchNetPack's default size, 967,681 parameters) trained on GFN1-xTB energies and forces "
    "of (H2SO4)n(NH3)m clusters: the shared pool's 300 K MD frames (SA0AM1-SA6AM5), 1,100 "
    "committee-selected 300/450 K NN-MD frames of SA6AM8-SA12AM12 and 854 300/450 K GFN1-xTB MD frames "
    "of clusters with more bases than acids (SA3AM5-SA7AM9; benchmarks/data/n7-9), fine-tuned three "
    "times from the first saam-gfn1 (2026-11-21; retrain.toml, retrain2.toml, retrain3.toml, "
    "2026-12-01); SA8AM10, SA9AM10, SA9AM11 and SA10AM10 held out as the test set. Binding energies "
    "against GFN1-xTB monomers folded back into per-element energies: predicts total GFN1-xTB energies "
    "in eV. Trained on a 2-core CPU (see benchmarks/RESULTS.md)."
)


def portable(value):
    """Absolute paths under the repository or beside it (``../shared``) made relative to it."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        if path.is_relative_to(ROOT):
            return str(path.relative_to(ROOT))
        if path.is_relative_to(ROOT.parent / "shared"):  # the shared data beside the repository
            return "../" + str(path.relative_to(ROOT.parent))
        return "RUN/" + path.name  # a run folder of the training machine
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("best", help="the run's best.painn")
    p.add_argument("out", nargs="?", default=str(ROOT / "painnjax" / "models" / "saam-gfn1.painn"))
    p.add_argument("--name", default="saam-gfn1", help="the bundled name (default saam-gfn1)")
    p.add_argument("--description-file", type=Path, help="the description, one paragraph (default saam-gfn1's)")
    args = p.parse_args(argv)
    best = load_model(args.best)
    out = Path(args.out)
    description = " ".join(args.description_file.read_text().split()) if args.description_file else DESCRIPTION
    metadata = portable(dict(best.metadata))
    metadata.update(name=args.name, description=description)
    save_model(dataclasses.replace(best, metadata=metadata), out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
