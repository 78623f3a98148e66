#!/usr/bin/env python
"""SA7AM7 end to end, as the reference study's Fig. 10: minimum -> harmonic frequencies ->
300 K MD -> power spectrum with the harmonic frequencies as sticks.

    python examples/spectrum_sa7am7.py                    # 2 ps, minutes on a CPU
    python examples/spectrum_sa7am7.py --ps 50            # a smoother spectrum (a GPU job)
    python examples/spectrum_sa7am7.py --model run1/best.painn

The work is :func:`md.analysis.study.vibrational_study` (what ``painnjax demo`` runs too): FIRE from the
bundled B97-3c structure to fmax 0.005 eV/Å (``OUT/minimum.xyz``); the Hessian by automatic
differentiation in float64 (``OUT/harmonic.json``); Nosé-Hoover MD at 300 K from the minimum, a
frame every fs (``OUT/md/``); the power spectrum of the frames after ``--equilibrate`` ps
(``OUT/spectrum.csv``, ``OUT/spectrum.png``, ``.pdf``). Run it again on the same folder to
continue an interrupted run, or with a larger ``--ps`` to extend the MD.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1", help="model file or bundled model name (default saam-gfn1)")
    p.add_argument("--structure", default="SA7AM7", help="start structure: file or bundled name (default SA7AM7)")
    p.add_argument("--T", type=float, default=300.0, help="temperature, K (default 300)")
    p.add_argument("--ps", type=float, default=2.0, help="MD length, ps (default 2)")
    p.add_argument("--equilibrate", type=float, default=0.5, help="ps of MD left out of the spectrum (default 0.5)")
    p.add_argument("--dt", type=float, default=0.5, help="time step, fs (default 0.5)")
    p.add_argument("--out", default="sa7am7-spectrum", help="output folder")
    args = p.parse_args(argv)

    from md.analysis.study import vibrational_study
    from painnjax.errors import PainnjaxError

    try:
        vibrational_study(
            args.model,
            args.structure,
            args.out,
            temperature=args.T,
            ps=args.ps,
            equilibrate=args.equilibrate,
            dt=args.dt,
        )
    except PainnjaxError as exc:
        print(f"spectrum_sa7am7: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
