"""Vibrational analysis commands: ``demo`` (the whole study), ``harmonic`` (frequencies), ``thermo`` (free
energies) and ``spectrum`` (of MD); ``evaporation`` (statistics of molecules lost in MD runs)."""

from __future__ import annotations

import sys
import warnings

from painnjax.cli.common import add_dtype, add_ignore_cell, add_model, add_quiet, comma_list
from painnjax.errors import InputError
from painnjax.io.files import check_writable

# `md` is imported in the handlers, not here: its modules load jax-md, scipy or ase.io, which would add
# 5-8 s to `painnjax --help` (1.5-3 s) and to every argument error (2026-12-07: `import md.workflow`
# timed after `import painnjax`). painnjax's own modules are imported here: `import painnjax` has loaded them.


def cmd_demo(args) -> int:
    from md.analysis.study import vibrational_study

    check_writable(args.out, "--out folder", folder=True)
    vibrational_study(
        args.model,
        args.structure,
        args.out,
        temperature=args.T,
        ps=args.ps,
        equilibrate=args.equilibrate,
        dt=args.dt,
        replicas=args.replicas,
        progress=not args.quiet,
    )
    return 0


def cmd_harmonic(args) -> int:
    from md.analysis.harmonic import (
        format_frequencies,
        harmonic_file,
        write_frequencies,
    )

    if args.json:  # before the Hessian is computed, not after
        check_writable(args.json, "--json file")
    res = harmonic_file(
        args.model,
        args.structure,
        dtype=args.dtype,
        imaginary_threshold=args.imaginary_threshold,
        ignore_cell=args.ignore_cell,
    )
    print(format_frequencies(res))
    if args.json:
        write_frequencies(res, args.json)
        print(f"wrote {args.json}")
    return 0


def cmd_thermo(args) -> int:
    from md.analysis.thermo import (
        check_conditions,
        format_thermo,
        thermo_of_file,
        write_dh_ds_table,
        write_thermo,
    )

    # settings and output paths before any Hessian is computed
    check_conditions(args.T, args.p, symmetry_number=args.symmetry_number, qh_cutoff=args.qh_cutoff)
    if args.table and args.no_binding:
        raise InputError("--table holds the binding free energies: it cannot be written with --no-binding")
    check_writable(args.json, "--json file")
    if args.table:
        check_writable(args.table, "--table file")
    res = thermo_of_file(
        args.model,
        args.structures,
        args.T,
        pressure=args.p,
        quasi_harmonic=not args.rrho,
        qh_cutoff=args.qh_cutoff,
        symmetry_number=args.symmetry_number,
        with_binding=not args.no_binding,
        dtype=args.dtype,
        ignore_cell=args.ignore_cell,
        settle=not args.no_settle,
        monomer_cache=not args.no_cache,
    )
    print(format_thermo(res))
    write_thermo(args.json, res.structures, bindings=res.bindings, monomers=res.monomers, settings=res.settings)
    print(f"wrote {args.json}")
    if args.table:
        write_dh_ds_table(args.table, res.structures, res.bindings)
        print(f"wrote {args.table}")
    return 0


def cmd_spectrum(args) -> int:
    from md.analysis.spectrum import spectrum_from_files, write_spectrum_folder

    check_writable(args.out, "--out folder", folder=True)
    spec = spectrum_from_files(
        args.traj,
        elements=comma_list(args.elements),
        window=args.window,
        normalisation=args.normalisation,
        dt_fs=args.dt,
    )
    harmonic = None
    if args.harmonic:
        from md.analysis.harmonic import harmonic_file

        harmonic = harmonic_file(args.harmonic[0], args.harmonic[1]).frequencies
    out = write_spectrum_folder(spec, args.out, harmonic=harmonic, max_frequency=args.max_frequency)
    print(
        f"{spec.n_replicas} trajectory(ies) x {spec.n_frames} frames, {spec.dt_fs:g} fs apart: resolution "
        f"{spec.resolution:.2f} cm-1, highest peak at {spec.peak(1e-9):.1f} cm-1, mean kinetic energy "
        f"{spec.kinetic_energy:.6g} eV; wrote {out}/spectrum.csv, spectrum.png, spectrum.pdf"
    )
    return 0


def cmd_evaporation(args) -> int:
    from md.analysis.evaporation import (
        BrokenMoleculeWarning,
        check_confidence,
        evaporation_study,
        format_evaporation,
        write_evaporation,
    )

    confidence = check_confidence(args.confidence)
    out = args.out if args.out is not None else args.runs[0]
    check_writable(out, "--out folder", folder=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BrokenMoleculeWarning)
        study = evaporation_study(args.runs, confidence=confidence, cluster=args.cluster)
    for w in caught:
        if issubclass(w.category, BrokenMoleculeWarning):
            print(f"painnjax evaporation: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(format_evaporation(study))
    files = write_evaporation(study, out)
    print(f"wrote {files['json']}, {files['csv'].name}, {files['png'].name}")
    return 0


def _add_demo(sub) -> None:
    d = sub.add_parser(
        "demo",
        help="the main job on the bundled defaults: SA7AM7 minimum, harmonic frequencies, "
        "300 K MD and its power spectrum with plots (minutes on a CPU)",
    )
    d.add_argument("--model", default="saam-gfn1", help="model file or bundled name (default saam-gfn1)")
    d.add_argument("--structure", default="SA7AM7", help="start structure: file or bundled name (default SA7AM7)")
    d.add_argument("--T", type=float, default=300.0, help="temperature, K (default 300)")
    d.add_argument(
        "--ps",
        type=float,
        default=2.0,
        help="MD length, ps (default 2: minutes on a CPU; 20-50 on a GPU for a smooth spectrum)",
    )
    d.add_argument("--equilibrate", type=float, default=0.5, help="ps of MD left out of the spectrum (default 0.5)")
    d.add_argument("--dt", type=float, default=0.5, help="MD time step, fs (default 0.5)")
    d.add_argument("--replicas", type=int, default=1, help="independent MD runs averaged in the spectrum (default 1)")
    d.add_argument(
        "--out",
        default="painnjax-demo",
        help="output folder (default painnjax-demo); run again to "
        "continue an interrupted demo or extend it with a larger --ps",
    )
    add_quiet(d)
    d.set_defaults(func=cmd_demo)


def _add_harmonic(sub) -> None:
    h = sub.add_parser(
        "harmonic", help="harmonic frequencies (cm-1) at a structure: exact Hessian, rigid-body motions projected out"
    )
    add_model(h)
    h.add_argument("structure", help="minimised structure (any ASE-readable file; its last frame) or a bundled name")
    h.add_argument(
        "--json",
        help="write the frequencies here (key frequencies_cm-1, ascending, imaginary negative) "
        "(default: none, only printed)",
    )
    add_dtype(h, default="float64")
    h.add_argument(
        "--imaginary-threshold",
        type=float,
        default=10.0,
        help="warn about imaginary frequencies beyond this (cm-1, default 10)",
    )
    add_ignore_cell(h)
    h.set_defaults(func=cmd_harmonic)


def _add_thermo(sub) -> None:
    t = sub.add_parser(
        "thermo",
        help="free energies (ideal gas, rigid rotor, quasi-harmonic oscillator) of minimised structures "
        "and their binding free energies from the model's own monomers",
    )
    add_model(t)
    t.add_argument(
        "structures", help="minimised structures: every frame of this file (any ASE-readable file) is computed"
    )
    t.add_argument("--T", type=float, nargs="+", default=[298.15], metavar="T", help="temperatures, K (default 298.15)")
    t.add_argument("--p", type=float, default=101325.0, help="pressure, Pa (default 101325, 1 atm)")
    t.add_argument(
        "--rrho",
        action="store_true",
        help="plain rigid rotor / harmonic oscillator (default: quasi-harmonic soft modes, Grimme's entropy "
        "and Head-Gordon's enthalpy)",
    )
    t.add_argument(
        "--qh-cutoff", type=float, default=100.0, help="quasi-harmonic damping frequency w0, cm-1 (default 100)"
    )
    t.add_argument(
        "--symmetry-number",
        type=int,
        default=1,
        help="rotational symmetry number of the structures (default 1, C1 clusters)",
    )
    t.add_argument(
        "--json",
        required=True,
        help="write the results here: settings, monomers, and per structure E, ZPE, frequencies, "
        "H, S, G and dH, dS, dG at each T",
    )
    t.add_argument(
        "--table",
        help="also write a plain-text table of dH (kcal/mol), dS (cal/(mol K)) and dG (kcal/mol) "
        "per structure and T, as cluster-kinetics codes (ACDC) read them (default: none, --json only)",
    )
    t.add_argument(
        "--no-binding",
        action="store_true",
        help="no binding free energies (no monomer references; for structures not made of SA, AM and W)",
    )
    t.add_argument(
        "--no-settle",
        action="store_true",
        help="take the structures as they are (default: a structure with an imaginary mode beyond 5 cm-1 is "
        "stepped along it and minimised again before its free energy is taken; said in the output)",
    )
    t.add_argument(
        "--no-cache",
        action="store_true",
        help="minimise the monomer references again (default: kept per model and settings in "
        "$XDG_CACHE_HOME/painnjax/monomers, ~/.cache when unset, and read back)",
    )
    add_dtype(t, default="float64")
    add_ignore_cell(t)
    t.set_defaults(func=cmd_thermo)


def _add_spectrum(sub) -> None:
    s = sub.add_parser(
        "spectrum",
        help="vibrational power spectrum of MD trajectories (FFT of the mass-weighted velocity autocorrelation)",
    )
    s.add_argument("traj", nargs="+", help="trajectory files with velocities (one per replica; averaged)")
    s.add_argument("--out", required=True, help="output folder: spectrum.csv, spectrum.png, spectrum.pdf")
    s.add_argument(
        "--harmonic",
        nargs=2,
        metavar=("MODEL", "MINIMUM"),
        help="also compute the harmonic frequencies of MINIMUM with MODEL and draw them as sticks "
        "(default: none, the spectrum alone)",
    )
    s.add_argument("--window", choices=["hann", "none"], default="hann", help="lag window (default hann)")
    s.add_argument(
        "--normalisation",
        choices=["max", "absolute"],
        default="max",
        help="max: highest peak 1 (default); absolute: eV per cm-1, integrating to the mean kinetic energy",
    )
    s.add_argument("--elements", help="only these elements, e.g. H or N,O (default: all atoms)")
    s.add_argument(
        "--dt",
        type=float,
        default=None,
        help="frame spacing, fs (default: from the frames' time_fs; needed only for frames without it)",
    )
    s.add_argument(
        "--max-frequency",
        type=float,
        default=None,
        help="plot up to this wavenumber, cm-1 (default: 1.1 times where 99.9 %% of the intensity lies, "
        "or past the highest harmonic stick)",
    )
    s.set_defaults(func=cmd_spectrum)


def _add_evaporation(sub) -> None:
    e = sub.add_parser(
        "evaporation",
        help="evaporation statistics of painnjax md runs: time to the first molecule lost per replica, "
        "Kaplan-Meier survival and first-order rate per temperature, Arrhenius fit",
    )
    e.add_argument("runs", nargs="+", metavar="RUN_DIR", help="painnjax md run folders (each with summary.json)")
    e.add_argument(
        "--out",
        default=None,
        help="folder for evaporation.json, survival.csv and survival.png (default: the first RUN_DIR)",
    )
    e.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence level of the intervals and survival bands (default 0.95)",
    )
    e.add_argument(
        "--cluster",
        default=None,
        metavar="FORMULA",
        help="only the replicas of this cluster (its formula as in summary.json, e.g. H20N4O16S4): "
        "for runs of several clusters (default: all replicas, which must then be of one cluster)",
    )
    e.set_defaults(func=cmd_evaporation)


def register(sub) -> None:
    _add_demo(sub)
    _add_harmonic(sub)
    _add_thermo(sub)
    _add_spectrum(sub)
    _add_evaporation(sub)
