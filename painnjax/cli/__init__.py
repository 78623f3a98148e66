"""Command line: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import argparse
import json
import sys

from painnjax.errors import InputError, PainnjaxError


def _elements(text: str | None):
    if not text:
        return None
    from painnjax.validate import as_atomic_numbers

    return as_atomic_numbers([s.strip() for s in text.split(",") if s.strip()], source="--elements").tolist()


def cmd_convert(args) -> int:
    from painnjax.interfaces.schnetpack import ENERGY_UNITS_IN_EV, from_schnetpack
    from painnjax.io.modelfile import save_model

    if args.energy_unit not in ENERGY_UNITS_IN_EV:
        raise PainnjaxError(f"--energy-unit must be one of {', '.join(ENERGY_UNITS_IN_EV)}")
    model = from_schnetpack(args.input, energy_unit=args.energy_unit, elements=_elements(args.elements))
    path = save_model(model, args.output)
    print(f"wrote {path}: PaiNN {model.config.n_atom_basis} features x {model.config.n_interactions} layers, "
          f"{model.n_parameters:,} parameters, cutoff {model.config.cutoff} Å")
    return 0


def cmd_info(args) -> int:
    from painnjax.io.modelfile import load_model

    model = load_model(args.model)
    info = {"config": model.config.to_dict(), "n_parameters": model.n_parameters, "metadata": model.metadata}
    print(json.dumps(info, indent=2))
    return 0


def cmd_check(args) -> int:
    from painnjax.interfaces.check import run_check

    run_check(args.out, sizes=args.sizes, model=args.model)
    return 0


def cmd_demo(args) -> int:
    from md.analysis.study import vibrational_study

    vibrational_study(args.model, args.structure, args.out, temperature=args.T, ps=args.ps,
                      equilibrate=args.equilibrate, dt=args.dt, replicas=args.replicas,
                      progress=not args.quiet)
    return 0


def cmd_train(args) -> int:
    from painnjax.train.workflow import train_from_files

    overrides = {
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed},
        "data": {"monomers": args.monomers},
    }
    train_from_files(args.data, args.config, args.out, resume=args.resume, overrides=overrides,
                     progress=not args.quiet, committee=args.committee, stop_after=args.stop_after)
    if args.committee > 1:
        print(f"committee of {args.committee} in {args.out}/member-1 ... member-{args.committee}: "
              f"use `painnjax evaluate` / `painnjax select` with their best.painn files")
    else:
        print(f"run folder {args.out}: best.painn (lowest validation loss), metrics.csv, learning_curve.png, "
              f"parity plots, summary.json (validation and test errors), checkpoints/")
    return 0


def _models_and_data(first: str, rest: list[str]) -> tuple[list[str], list[str]]:
    """The first argument and every later one ending in .painn (or naming a bundled model that
    is not a file here) are models; the others are data files."""
    from pathlib import Path

    from painnjax.errors import InputError
    from painnjax.io.modelfile import SUFFIX, bundled_models

    bundled = set(bundled_models())
    models, data = [first], []
    for arg in rest:
        p = Path(arg)
        is_model = p.suffix.lower() == SUFFIX or (arg in bundled and not p.exists())
        (models if is_model else data).append(arg)
    if not data:
        raise InputError(f"no data files given (models: {', '.join(models)}); "
                         f"usage: painnjax evaluate MODEL [MODEL{SUFFIX} ...] DATA [DATA ...]")
    return models, data


def cmd_evaluate(args) -> int:
    from pathlib import Path

    from painnjax.data.dataset import read_dataset
    from painnjax.train.evaluate import error_report, parity_plot, write_json
    from painnjax.io.modelfile import load_model

    models, data = _models_and_data(args.model, args.data)
    if len(models) > 1:
        from painnjax.train.committee import committee_report, load_committee

        committee, names = load_committee(models)
        ds = read_dataset(data, require_forces=False)
        report = committee_report(committee, ds, batch_size=args.batch_size, names=names)
        c = report["committee"]
        print(f"{'model':>30s} {'E MAE':>9s} {'E RMSE':>9s} {'F MAE':>9s} {'F RMSE':>9s}")
        for row in c["per_model"]:
            print(f"{row['model'][-30:]:>30s} {row['energy_mae']:9.3f} {row['energy_rmse']:9.3f} "
                  f"{row.get('forces_mae', float('nan')):9.3f} {row.get('forces_rmse', float('nan')):9.3f}")
        print(f"committee of {c['n_models']} models: spread (std over models) of the energy "
              f"{c['mean_energy_std_kcal_mol']:.3f} kcal/mol on average (max {c['max_energy_std_kcal_mol']:.3f}), "
              f"of the forces {c['mean_force_spread_kcal_mol_A']:.3f} kcal/mol/Å "
              f"(max {c['max_force_spread_kcal_mol_A']:.3f})")
        print("errors of the committee mean:")
        title = f"committee of {c['n_models']} models"
    else:
        model = load_model(args.model)
        ds = read_dataset(data, require_forces=False)
        report = error_report(model, ds, batch_size=args.batch_size)
        title = str(args.model)
    print(f"{report['n_structures']} structures: energy MAE {report['energy_mae']:.3f} kcal/mol "
          f"(RMSE {report['energy_rmse']:.3f}, max {report['energy_max_error']:.3f}, r = {report['energy_pearson_r']:.4f})")
    if "forces_mae" in report:
        print(f"forces MAE {report['forces_mae']:.3f} kcal/mol/Å (RMSE {report['forces_rmse']:.3f}, "
              f"max {report['forces_max_error']:.3f}, mean angle {report['forces_angle_deg']:.2f}°)")
    print(f"{'composition':>12s} {'n':>6s} {'E MAE':>9s} {'F MAE':>9s}")
    for comp, row in report["per_composition"].items():
        print(f"{comp:>12s} {row['n_structures']:6d} {row['energy_mae']:9.3f} {row.get('forces_mae', float('nan')):9.3f}")
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    plot = Path(args.plot) if args.plot else Path(args.json).with_suffix(".png") if args.json else None
    if plot is not None:
        parity_plot(report, plot, title=title)
        print(f"wrote {plot}")
    return 0


def cmd_select(args) -> int:
    from painnjax.train.committee import load_committee, read_pool, select_by_spread, write_selection

    models, names = load_committee(args.models)  # before reading the pool: fail fast
    pool = read_pool(args.pool)
    sel = select_by_spread(models, pool, args.n, criterion=args.criterion, batch_size=args.batch_size, names=names)
    path = write_selection(args.out, pool, sel)
    s = sel.stats
    print(f"{len(sel.indices)} of {len(pool)} structures with the largest {args.criterion} spread "
          f"of {len(models)} models (E: std of the energy, kcal/mol; F: per-atom force spread, kcal/mol/Å)")
    print(f"{'rank':>4s} {'source':>30s} {'frame':>6s} {'composition':>12s} {'E std':>9s} {'F mean':>9s} {'F max':>9s}")
    for rank, k in enumerate(sel.indices.tolist()):
        info = pool.info[k]
        print(f"{rank:4d} {str(info.get('source'))[-30:]:>30s} {info.get('frame')!s:>6s} "
              f"{info.get('composition')!s:>12s} {s.energy_std_kcal_mol[k]:9.3f} "
              f"{s.force_spread_kcal_mol_A[k]:9.3f} {s.force_spread_max_kcal_mol_A[k]:9.3f}")
    print(f"wrote {path}")
    return 0


def cmd_md(args) -> int:
    import warnings

    from md.dynamics.config import MDConfig
    from md.dynamics.simulate import SafetyStopWarning
    from md.workflow import run_md_file

    temps = args.T[0] if len(args.T) == 1 else tuple(args.T)
    replicas = args.replicas if args.replicas is not None else max(len(args.T), 1)
    cfg = MDConfig(
        ensemble=args.ensemble, temperature=temps, dt=args.dt, steps=args.steps, replicas=replicas,
        seed=args.seed, tau=args.tau, chain_length=args.chain_length, friction=args.friction,
        log_every=args.log_every, traj_every=args.traj_every, checkpoint_every=args.checkpoint_every,
        max_temperature=args.max_temperature, fragment_distance=args.fragment_distance,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SafetyStopWarning)  # printed below, once
            res = run_md_file(args.model, args.start, cfg, args.out, restart=args.restart, dtype=args.dtype,
                              traj_format=args.format, write_forces=args.forces, progress=not args.quiet,
                              velocities_from_file=args.velocities_from_file)
    except KeyboardInterrupt:
        print(f"painnjax md: interrupted; continue with --restart (checkpoint in {args.out})", file=sys.stderr)
        return 130
    s = res.summary
    speed = (f"{s['steps_per_second']:.1f} steps/s ({s['ns_per_day']:.3g} ns/day)"
             if s["steps_per_second"] else "no steps run")
    mean_T = f", mean T {s['mean_temperature_K']:.1f} K" if s["mean_temperature_K"] is not None else ""
    print(f"{s['formula']} ({s['n_atoms']} atoms), {s['ensemble']}, {s['replicas']} replica(s): step "
          f"{s['steps_done']} of {s['steps_target']} ({s['time_ps']:g} ps), {speed}, compile "
          f"{s['compile_seconds']:.1f} s{mean_T}; stop reason: {s['stop_reason']}")
    for line in res.messages:
        print(f"painnjax md: {line}", file=sys.stderr)
    print(f"wrote {args.out}: summary.json, thermo.csv, trajectory_r*.{args.format}, checkpoint.msgpack")
    return 1 if res.stop_reason.startswith("safety") else 0


def cmd_optimize(args) -> int:
    from md.workflow import optimize_file

    res = optimize_file(args.model, args.input, args.out, fmax=args.fmax, max_steps=args.steps, dtype=args.dtype)
    state = "converged" if res.converged else "NOT converged"
    print(f"FIRE {state} in {res.steps} steps: E = {res.energy:.6f} eV, max force {res.fmax:.4g} eV/Å "
          f"(fmax {args.fmax}); wrote {args.out}")
    return 0 if res.converged else 1


def cmd_screen(args) -> int:
    from md.screening.candidates import composition_name, random_candidates, read_candidates
    from md.screening.screen import screen_to_folder

    if (args.composition is None) == (args.candidates is None):
        raise InputError("give either --composition (random candidates) or --candidates FILE, not both")
    if args.composition is not None:
        if args.n < 1:
            raise InputError(f"--n must be >= 1, got {args.n}")
        name = composition_name(args.composition)
        candidates = random_candidates(args.composition, args.n, seed=args.seed)
        description = f"{name} n={args.n} seed={args.seed}"
    else:
        candidates = read_candidates(args.candidates)
        description = f"{args.candidates} ({len(candidates)} frames)"
    print(f"screening {description} with {args.model}")
    res = screen_to_folder(args.model, candidates, args.out, keep=args.keep, resume=args.resume,
                           description=description, fmax=args.fmax, max_steps=args.steps, slots=args.slots,
                           energy_window=args.energy_window, tolerance=args.tolerance,
                           committee=args.committee or (), dtype=args.dtype, progress=not args.quiet)
    return 0 if len(res.ranked) else 1


def cmd_label(args) -> int:
    _one_omp_thread()
    from painnjax.active.label import label_file

    if len(args.files) < 2:
        raise InputError("give the input file(s) and then the output file: painnjax label IN [IN ...] OUT")
    *inputs, out = args.files
    try:
        report = label_file(inputs, out, method=args.method, failed=args.failed, retry_failed=args.retry_failed,
                            progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"painnjax label: interrupted; the frames done are in {out}: run the same command again to continue",
              file=sys.stderr)
        return 130
    print(report.summary())
    if report.n_failed:
        print(f"painnjax label: {report.n_failed} of {report.n_frames} frames failed (not labelled; in "
              f"{report.failed_path} with the reason in info label_error); --retry-failed tries them again",
              file=sys.stderr)
        return 1
    return 0


def _one_omp_thread() -> None:
    """tblite's OpenMP threads cost far more than they give on clusters of tens of atoms."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")


def cmd_sample(args) -> int:
    from pathlib import Path

    if args.xtb:
        _one_omp_thread()
        from painnjax.active.sample import sample_xtb

        if len(args.models) != 1:
            raise InputError("with --xtb give only the start structure: painnjax sample START --xtb GFN1-xTB ...")
        n = sample_xtb(args.models[0], args.out, method=args.xtb, temperature=args.T[0], steps=args.steps,
                       every=args.every, dt=args.dt, friction=args.friction, seed=args.seed,
                       equilibrate=args.equilibrate, progress=not args.quiet)
    else:
        from md.dynamics.config import MDConfig
        from painnjax.active.sample import sample_md

        if len(args.models) < 2:
            raise InputError("give the model(s) and then the start structure: painnjax sample MODEL [MODEL ...] START")
        *models, start = args.models
        temps = tuple(args.T) * args.replicas
        cfg = MDConfig(ensemble=args.ensemble, temperature=temps if len(temps) > 1 else temps[0], dt=args.dt,
                       steps=args.steps, replicas=len(temps), seed=args.seed, friction=args.friction)
        n = sample_md(models, start, args.out, cfg, every=args.every, equilibrate=args.equilibrate,
                      restart=args.restart, progress=not args.quiet)
    print(f"wrote {n} frames to {Path(args.out)} (positions only: label them with painnjax label)")
    return 0


def cmd_learn(args) -> int:
    _one_omp_thread()
    from painnjax.active.learn import LearnConfig, learn

    cfg = LearnConfig(rounds=args.rounds, committee=args.committee, epochs=args.epochs, retrain=args.retrain,
                      starts=args.starts, temperatures=args.T, ensemble=args.ensemble, dt=args.dt,
                      md_steps=args.md_steps, every=args.every, threshold=args.threshold, max_spread=args.max_spread,
                      max_add=args.max_add, method=args.method, seed=args.seed)
    rows = learn(args.data, args.test, args.out, cfg, train_config=args.config, progress=not args.quiet)
    print(f"{'round':>5s} {'frames':>7s} {'added':>6s} {'E MAE':>8s} {'F MAE':>8s}   (test set; kcal/mol, kcal/mol/Å)")
    for r in rows:
        print(f"{r['round']:5d} {r['train_frames']:7d} {r.get('added', 0):6d} {r['test_energy_mae_kcal_mol']:8.3f} "
              f"{r['test_forces_mae_kcal_mol_A']:8.3f}")
    print(f"wrote {args.out}/learn.csv, learn.json, learning.png")
    return 0


def cmd_harmonic(args) -> int:
    from md.analysis.harmonic import harmonic_file, write_json

    res = harmonic_file(args.model, args.structure, dtype=args.dtype, imaginary_threshold=args.imaginary_threshold)
    kind = "linear, 3N-5" if res.linear else "3N-6"
    print(f"{len(res.frequencies)} vibrational frequencies ({kind}; imaginary shown negative), cm-1; "
          f"max force {res.fmax:.3g} eV/Å:")
    print(" ".join(f"{f:.2f}" for f in res.frequencies))
    if args.json:
        write_json(res, args.json)
        print(f"wrote {args.json}")
    return 0


def cmd_spectrum(args) -> int:
    from pathlib import Path

    from md.analysis.spectrum import plot_spectrum, spectrum_from_files

    elements = [s.strip() for s in args.elements.split(",") if s.strip()] if args.elements else None
    spec = spectrum_from_files(args.traj, elements=elements, window=args.window, normalisation=args.normalisation,
                               dt_fs=args.dt)
    harmonic = None
    if args.harmonic:
        from md.analysis.harmonic import harmonic_file

        harmonic = harmonic_file(args.harmonic[0], args.harmonic[1]).frequencies
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec.write_csv(out / "spectrum.csv")
    plot_spectrum(spec, [out / "spectrum.png", out / "spectrum.pdf"], harmonic=harmonic,
                  max_frequency=args.max_frequency)
    if harmonic is not None:
        from painnjax.io.files import atomic_write

        atomic_write(out / "harmonic.json", json.dumps({"frequencies_cm-1": [float(f) for f in harmonic]}, indent=2) + "\n")
    print(f"{spec.n_replicas} trajectory(ies) x {spec.n_frames} frames, {spec.dt_fs:g} fs apart: resolution "
          f"{spec.resolution:.2f} cm-1, highest peak at {spec.peak(1e-9):.1f} cm-1, mean kinetic energy "
          f"{spec.kinetic_energy:.6g} eV; wrote {out}/spectrum.csv, spectrum.png, spectrum.pdf")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painnjax", description="PaiNN potentials in JAX for molecular clusters")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert-schnetpack", help="carry a SchNetPack PaiNN model into a painnjax model file")
    c.add_argument("input", help="torch.save'd schnetpack NeuralNetworkPotential (.pt)")
    c.add_argument("output", help="painnjax model file to write (.painn)")
    c.add_argument("--energy-unit", default="eV", help="energy unit of the SchNetPack model (default eV)")
    c.add_argument("--elements", help="elements the model was trained on, e.g. H,N,O,S (default: any)")
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("info", help="print a model's config, parameter count and metadata")
    i.add_argument("model", help="model file or bundled model name")
    i.set_defaults(func=cmd_info)

    t = sub.add_parser("train", help="train a PaiNN on energies and forces (the paper's protocol by default)")
    t.add_argument("--data", nargs="+", required=True, help="ASE-readable files with energies (and forces)")
    t.add_argument("--config", help="TOML or YAML run config ([model], [train], [data], [split])")
    t.add_argument("--out", default="run", help="run folder (default: run)")
    t.add_argument("--monomers", help="monomer reference file: train on binding energies")
    t.add_argument("--epochs", type=int, help="override [train] epochs")
    t.add_argument("--batch-size", type=int, help="override [train] batch_size")
    t.add_argument("--seed", type=int, help="override [train] seed")
    t.add_argument("--committee", type=int, default=1, metavar="K",
                   help="train K models (seeds seed .. seed+K-1) on the same split into --out/member-k")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--stop-after", type=int, metavar="N",
                   help="train at most N more epochs in this call (e.g. a batch job's time limit), then --resume")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="errors of a model (or a committee) on data: MAE, RMSE, r, force angles, "
                                        "per composition")
    e.add_argument("model", help="model file or bundled model name")
    e.add_argument("data", nargs="+", help="ASE-readable files with total energies (and forces); further model "
                                           "files (*.painn) here make a committee: the errors of its mean and its spread")
    e.add_argument("--json", help="write the metrics here (energy_mae, energy_rmse, forces_mae, forces_rmse, ...)")
    e.add_argument("--plot", help="parity plot PNG (default: next to --json)")
    e.add_argument("--batch-size", type=int, default=8)
    e.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("select", help="query by committee: the N structures of a pool the models disagree on most")
    q.add_argument("models", nargs="*", help="two or more model files (the committee)")
    q.add_argument("--pool", nargs="+", required=True, help="ASE-readable files of candidates (labels not needed)")
    q.add_argument("--n", type=int, required=True, help="how many structures to select")
    q.add_argument("--out", required=True, help="extxyz file for the selected structures")
    q.add_argument("--criterion", choices=["forces", "forces_max", "energy"], default="forces",
                   help="forces: mean per-atom force spread (default); forces_max: its max over atoms; "
                        "energy: std of the energy")
    q.add_argument("--batch-size", type=int, default=8)
    q.set_defaults(func=cmd_select)

    d = sub.add_parser("demo", help="the main job on the bundled defaults: SA7AM7 minimum, harmonic frequencies, "
                                    "300 K MD and its power spectrum with plots (minutes on a CPU)")
    d.add_argument("--model", default="saam-gfn1", help="model file or bundled name (default saam-gfn1)")
    d.add_argument("--structure", default="SA7AM7", help="start structure: file or bundled name (default SA7AM7)")
    d.add_argument("--T", type=float, default=300.0, help="temperature, K (default 300)")
    d.add_argument("--ps", type=float, default=2.0,
                   help="MD length, ps (default 2: minutes on a CPU; 20-50 on a GPU for a smooth spectrum)")
    d.add_argument("--equilibrate", type=float, default=0.5, help="ps of MD left out of the spectrum (default 0.5)")
    d.add_argument("--dt", type=float, default=0.5, help="MD time step, fs (default 0.5)")
    d.add_argument("--replicas", type=int, default=1, help="independent MD runs averaged in the spectrum (default 1)")
    d.add_argument("--out", default="painnjax-demo", help="output folder (default painnjax-demo); run again to "
                                                          "continue an interrupted demo or extend it with a larger --ps")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)
    lb = sub.add_parser("label", help="xTB single points (energy, forces) of every frame with tblite: a labelled "
                                      "extxyz for training; resumable (run again to continue); "
                                      "OMP_NUM_THREADS=1 is fastest for small clusters")
    lb.add_argument("files", nargs="+", metavar="FILE", help="IN [IN ...] OUT: ASE-readable input files, then the "
                                                             "output extxyz (frames already there are skipped)")
    lb.add_argument("--method", default="GFN1-xTB", help="GFN1-xTB (default), GFN2-xTB or IPEA1-xTB")
    lb.add_argument("--failed", help="file for frames whose SCF failed (default: OUT with suffix .failed.extxyz)")
    lb.add_argument("--retry-failed", action="store_true", help="label the frames that failed before again")
    lb.add_argument("--quiet", action="store_true", help="no progress bar")
    lb.set_defaults(func=cmd_label)
    sa = sub.add_parser("sample", help="configurations to label: frames of NN MD (one model or a committee's mean) "
                                       "or of xTB MD (--xtb), every k steps, into one extxyz")
    sa.add_argument("models", nargs="+", metavar="ARG", help="MODEL [MODEL ...] START, or with --xtb only START "
                                                              "(a structure file or bundled name such as SA2AM2)")
    sa.add_argument("--out", required=True, help="extxyz file of the sampled frames (positions only)")
    sa.add_argument("--xtb", metavar="METHOD", help="MD at this xTB level through ASE (Langevin; slow) instead of NN MD")
    sa.add_argument("--ensemble", choices=["nvt-nh", "nvt-langevin", "nve"], default="nvt-langevin")
    sa.add_argument("--T", type=float, nargs="+", default=[300.0], help="temperature(s), K: one replica each")
    sa.add_argument("--replicas", type=int, default=1, help="replicas per temperature (default 1)")
    sa.add_argument("--steps", type=int, default=2000)
    sa.add_argument("--dt", type=float, default=0.5, help="fs (default 0.5)")
    sa.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    sa.add_argument("--every", type=int, default=20, help="steps between sampled frames (default 20)")
    sa.add_argument("--equilibrate", type=int, default=0, help="steps left out at the start (default 0)")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--restart", action="store_true", help="continue the NN MD in OUT's _md folder")
    sa.add_argument("--quiet", action="store_true")
    sa.set_defaults(func=cmd_sample)
    le = sub.add_parser("learn", help="active learning: committee -> MD with its mean -> label where it disagrees "
                                      "(xTB) -> retrain, for N rounds, with a report per round")
    le.add_argument("--data", nargs="+", required=True, help="labelled files to start from")
    le.add_argument("--test", nargs="+", required=True, help="labelled test file(s), never trained on")
    le.add_argument("--config", help="training config (TOML/YAML, as painnjax train takes)")
    le.add_argument("--out", required=True, help="run folder (run again to continue)")
    le.add_argument("--rounds", type=int, default=3)
    le.add_argument("--committee", type=int, default=2, help="models per committee (default 2)")
    le.add_argument("--epochs", type=int, help="training epochs per round (default: the config's)")
    le.add_argument("--retrain", choices=["scratch", "continue"], default="scratch")
    le.add_argument("--starts", nargs="+", default=["SA2AM2"], help="MD start structures (files or bundled names)")
    le.add_argument("--T", type=float, nargs="+", default=[300.0], help="MD temperatures, K (one replica each)")
    le.add_argument("--ensemble", choices=["nvt-nh", "nvt-langevin", "nve"], default="nvt-langevin")
    le.add_argument("--dt", type=float, default=0.5)
    le.add_argument("--md-steps", type=int, default=2000)
    le.add_argument("--every", type=int, default=20)
    le.add_argument("--threshold", type=float, default=0.05, help="pick frames whose force spread exceeds this, eV/Å")
    le.add_argument("--max-spread", type=float, default=1.0, help="... but not this (unphysical), eV/Å")
    le.add_argument("--max-add", type=int, default=20, help="frames labelled per round at most")
    le.add_argument("--method", default="GFN1-xTB")
    le.add_argument("--seed", type=int, default=0)
    le.add_argument("--quiet", action="store_true")
    le.set_defaults(func=cmd_learn)
    sc = sub.add_parser("screen", help="configurational screening: many candidate structures minimised at once "
                                       "(batched FIRE), duplicates removed, the lowest kept")
    sc.add_argument("model", help="model file or bundled model name")
    sc.add_argument("--composition", help="random candidates of this cluster, e.g. SA4AM4, SA2AM2W2, SA3B1AM2AH1 "
                                          "(B = HSO4-, AH = NH4+)")
    sc.add_argument("--candidates", help="or: every frame of this structure file (extxyz, xyz, traj, ...)")
    sc.add_argument("--n", type=int, default=1000, help="random candidates (default 1000)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the random candidates (default 0)")
    sc.add_argument("--keep", type=int, default=20, help="distinct minima written to OUT/best.extxyz (default 20)")
    sc.add_argument("--fmax", type=float, default=0.01, help="FIRE convergence, eV/Å (default 0.01)")
    sc.add_argument("--steps", type=int, default=2000, help="FIRE steps per structure at most (default 2000)")
    sc.add_argument("--slots", type=int, default=None,
                    help="structures minimised at once (default: 1 on a CPU, where that is fastest; 256 on a GPU)")
    sc.add_argument("--energy-window", type=float, default=0.1,
                    help="duplicates lie within this energy, kcal/mol (default 0.1)")
    sc.add_argument("--tolerance", type=float, default=0.03,
                    help="... and within this RMS of sorted interatomic distances, Å (default 0.03)")
    sc.add_argument("--committee", nargs="+", metavar="MODEL",
                    help="further models: their energy/force spread on the kept minima flags uncertain ones")
    sc.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    sc.add_argument("--out", required=True, help="output folder")
    sc.add_argument("--resume", action="store_true", help="continue an interrupted screen in OUT")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.set_defaults(func=cmd_screen)
    c = sub.add_parser("check", help="energies and forces of the bundled (SA)n(AM)n clusters, with invariance "
                                     "checks and timings")
    c.add_argument("--out", default="painnjax-check", help="output folder (default painnjax-check)")
    c.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 7], help="n of (SA)n(AM)n (1 2 4 7 10 15)")
    c.add_argument("--model", default=None,
                   help="model file or bundled name (default: saam-gfn1; 'seeded': an untrained default-size PaiNN)")
    c.set_defaults(func=cmd_check)
    m = sub.add_parser("md", help="molecular dynamics of a cluster (jax-md): Nosé-Hoover, NVE or Langevin, "
                                  "replicas, checkpoints, --restart")
    m.add_argument("model", help="model file or bundled model name")
    m.add_argument("start", help="start structure (any ASE-readable file; its last frame) or a bundled name, e.g. SA7AM7")
    m.add_argument("--ensemble", default="nvt-nh", help="nvt-nh (Nosé-Hoover chain, default), nve or nvt-langevin")
    m.add_argument("--T", "--temperature", dest="T", type=float, nargs="+", default=[300.0],
                   help="temperature in K (NVE: of the initial velocities); several: one per replica")
    m.add_argument("--dt", type=float, default=0.5, help="time step in fs (default 0.5)")
    m.add_argument("--steps", type=int, required=True, help="total number of steps (a restart continues up to it)")
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument("--replicas", type=int, default=None, help="independent trajectories in one run (default: one "
                                                                "per --T value)")
    m.add_argument("--restart", action="store_true", help="continue the run in --out from its checkpoint")
    m.add_argument("--seed", type=int, default=0, help="random seed of the initial velocities and noise")
    m.add_argument("--tau", type=float, default=100.0, help="Nosé-Hoover time constant in fs (default 100)")
    m.add_argument("--chain-length", type=int, default=3, help="Nosé-Hoover chain length, >= 2 (default 3)")
    m.add_argument("--friction", type=float, default=0.01, help="Langevin friction in 1/fs (default 0.01)")
    m.add_argument("--log-every", type=int, default=10, help="steps between thermo records and checks (default 10)")
    m.add_argument("--traj-every", type=int, default=100, help="steps between trajectory frames (default 100; 0: none)")
    m.add_argument("--checkpoint-every", type=int, default=1000, help="steps between checkpoints (default 1000)")
    m.add_argument("--format", choices=["traj", "extxyz"], default="traj", help="trajectory format (default traj)")
    m.add_argument("--forces", action="store_true", help="store forces in the trajectory frames")
    m.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    m.add_argument("--max-temperature", type=float, default=None,
                   help="stop a replica above this temperature in K (default max(5 T, 2000 K))")
    m.add_argument("--fragment-distance", type=float, default=None,
                   help="stop a replica when atoms are farther than this (Å) from the rest of the cluster "
                        "(default: the model's cutoff; 0: no check)")
    m.add_argument("--velocities-from-file", action="store_true", help="start from the velocities in the start file")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_md)

    o = sub.add_parser("optimize", help="FIRE minimisation of a structure to a force criterion (eV/Å)")
    o.add_argument("model", help="model file or bundled model name")
    o.add_argument("input", help="structure file (any ASE-readable file; its last frame) or a bundled name")
    o.add_argument("--fmax", type=float, default=0.01, help="largest atomic force at convergence, eV/Å (default 0.01)")
    o.add_argument("--steps", type=int, default=1000, help="step limit (default 1000)")
    o.add_argument("--out", required=True, help="file for the minimised structure (e.g. OUT.xyz, with energy and forces)")
    o.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    o.set_defaults(func=cmd_optimize)

    h = sub.add_parser("harmonic", help="harmonic frequencies (cm-1) at a structure: exact Hessian, rigid-body "
                                        "motions projected out")
    h.add_argument("model", help="model file or bundled model name")
    h.add_argument("structure", help="minimised structure (any ASE-readable file; its last frame) or a bundled name")
    h.add_argument("--json", help="write the frequencies here (key frequencies_cm-1, ascending, imaginary negative)")
    h.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    h.add_argument("--imaginary-threshold", type=float, default=10.0,
                   help="warn about imaginary frequencies beyond this (cm-1, default 10)")
    h.set_defaults(func=cmd_harmonic)

    s = sub.add_parser("spectrum", help="vibrational power spectrum of MD trajectories (FFT of the mass-weighted "
                                        "velocity autocorrelation)")
    s.add_argument("traj", nargs="+", help="trajectory files with velocities (one per replica; averaged)")
    s.add_argument("--out", required=True, help="output folder: spectrum.csv, spectrum.png, spectrum.pdf")
    s.add_argument("--harmonic", nargs=2, metavar=("MODEL", "MINIMUM"),
                   help="also compute the harmonic frequencies of MINIMUM with MODEL and draw them as sticks")
    s.add_argument("--window", choices=["hann", "none"], default="hann", help="lag window (default hann)")
    s.add_argument("--normalisation", choices=["max", "absolute"], default="max",
                   help="max: highest peak 1 (default); absolute: eV per cm-1, integrating to the mean kinetic energy")
    s.add_argument("--elements", help="only these elements, e.g. H or N,O")
    s.add_argument("--dt", type=float, default=None, help="frame spacing in fs (only for frames without time_fs)")
    s.add_argument("--max-frequency", type=float, default=None, help="plot up to this wavenumber (cm-1)")
    s.set_defaults(func=cmd_spectrum)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PainnjaxError as exc:
        print(f"painnjax {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
