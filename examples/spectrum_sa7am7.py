#!/usr/bin/env python
"""SA7AM7 end to end, as the reference study's Fig. 10: minimum -> harmonic frequencies ->
300 K MD -> power spectrum with the harmonic frequencies as sticks.

    python examples/spectrum_sa7am7.py                    # 2 ps, minutes on a CPU
    python examples/spectrum_sa7am7.py --ps 50            # a smoother spectrum (a GPU job)
    python examples/spectrum_sa7am7.py --model run1/best.painn

Steps: FIRE from the bundled B97-3c structure to fmax 0.005 eV/Å (``OUT/minimum.xyz``);
Hessian by ``jax.hessian`` in float64 (``OUT/harmonic.json``); Nosé-Hoover MD at 300 K from the
minimum, a frame every fs (``OUT/md/``); the power spectrum of all its frames after
``--equilibrate`` ps (``OUT/spectrum.csv``, ``OUT/spectrum.png``, ``.pdf``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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

    from md import MDConfig, run_md_file
    from md.harmonic import harmonic_file, write_json
    from md.spectrum import plot_spectrum, power_spectrum, read_velocities
    from md.workflow import optimize_file
    from painnjax.errors import InputError, PainnjaxError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        res = optimize_file(args.model, args.structure, out / "minimum.xyz", fmax=0.005, max_steps=5000)
        print(f"minimum: E = {res.energy:.5f} eV, fmax {res.fmax:.4f} eV/Å after {res.steps} FIRE steps"
              f"{'' if res.converged else ' (NOT converged)'}")
        harm = harmonic_file(args.model, out / "minimum.xyz")
        write_json(harm, out / "harmonic.json")
        f = harm.frequencies
        print(f"harmonic: {len(f)} frequencies, {f[0]:.1f} ... {f[-1]:.1f} cm-1, {int((f < 0).sum())} imaginary")

        log = 2 if args.dt == 0.5 else 1  # a frame every fs at 0.5 fs
        steps = int(round(args.ps * 1000.0 / args.dt / log)) * log
        cfg = MDConfig(ensemble="nvt-nh", temperature=args.T, dt=args.dt, steps=steps, log_every=log,
                       traj_every=log, checkpoint_every=max(log, (steps // 10) // log * log))
        md = run_md_file(args.model, out / "minimum.xyz", cfg, out / "md")
        s = md.summary
        print(f"MD: {s['steps_done']} steps, {s['steps_per_second']:.1f} steps/s, mean T {s['mean_temperature_K']:.0f} K, "
              f"stop: {s['stop_reason']}")
        V, masses, _, dt_fs = read_velocities([out / "md" / "trajectory_r000.traj"])
        skip = int(round(args.equilibrate * 1000.0 / dt_fs))
        if V.shape[1] - skip < 100:
            raise InputError(f"only {V.shape[1] - skip} frames after {args.equilibrate} ps: run longer (--ps)")
        spec = power_spectrum(V[:, skip:], masses, dt_fs, window="hann", normalisation="max")
    except PainnjaxError as exc:
        print(f"spectrum_sa7am7: error: {exc}", file=sys.stderr)
        return 2
    spec.write_csv(out / "spectrum.csv")
    paths = plot_spectrum(spec, [out / "spectrum.png", out / "spectrum.pdf"], harmonic=harm.frequencies,
                          max_frequency=4000.0,
                          title=f"SA7AM7, {args.T:g} K, {(V.shape[1] - skip) * dt_fs / 1000:.1f} ps: MD spectrum "
                                f"and harmonic frequencies")
    (out / "run.json").write_text(json.dumps({"model": args.model, "md_summary": s, "frames_used": V.shape[1] - skip,
                                              "resolution_cm-1": spec.resolution}, indent=2, default=str))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
