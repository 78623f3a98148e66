"""What a finished screen writes and prints: ``best.extxyz``, ``unconverged.extxyz``, ``summary.csv``,
``screen.json``, ``energies.png``, the table of the lowest minima and the closing lines.

:func:`write_outputs` writes them all into a screen's folder (what
:func:`md.screening.folder.screen_to_folder` ends with); the other functions each make one of
them from a :class:`~md.screening.screen.ScreenResult`, with no files: :func:`best_frames`,
:func:`summary_csv`, :func:`summary_record`, :func:`format_table`, :func:`format_counts`,
:func:`lowest_states`, :func:`state_counts`, :func:`format_found`; :func:`plot_energies` draws the histogram.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from md.screening.protonation import OTHER, detect_state
from md.screening.screen import ScreenResult
from painnjax.io.files import atomic_write, write_extxyz_atomic, write_json
from painnjax.io.plots import pyplot, save_figure
from painnjax.units import KCAL_PER_MOL

SCREEN_FILE = "screen.json"
SUMMARY_COLUMNS = (
    "candidate,composition,energy_eV,relative_kcal_mol,converged,steps,fmax_eV_per_A,duplicate_of,rank,"
    "energy_spread_kcal_mol,force_spread_eV_per_A,state,final_state,force_calls,parent,refine_round,move,partner"
)


def write_outputs(res: ScreenResult, out: Path, settings: dict, keep: int, plot: bool, say) -> dict:
    """Write the files of a finished screen into ``out`` and ``say`` its table and summary; the
    ``screen.json`` record (``settings``: what defines the screen, recorded with it)."""
    rel = res.relative_kcal_mol()
    best = best_frames(res, rel, keep)
    write_extxyz_atomic(out / "best.extxyz", best)
    bad = [res.structures[k] for k in range(len(res.energies)) if not res.converged[k]]
    write_extxyz_atomic(out / "unconverged.extxyz", bad)
    atomic_write(out / "summary.csv", summary_csv(res, rel))
    summary = summary_record(res, settings, len(best), rel)
    write_json(out / SCREEN_FILE, summary)
    if plot:
        plot_energies(res, out / "energies.png")
    say(format_table(res, rel, keep))
    say(format_counts(res, summary, out))
    for line in format_found(res):
        say(line)
    for line in lowest_states(res):
        say(line)
    for line in unnamed_lowest(res, rel):
        warnings.warn(line, UnnamedMinimumWarning, stacklevel=2)
    return summary


class UnnamedMinimumWarning(UserWarning):
    """The lowest minimum of a composition is in no named protonation state, below minima that are."""


def unnamed_lowest(res: ScreenResult, rel: np.ndarray) -> list[str]:
    """One message per composition whose lowest minimum is in no named state (``"other"``: a molecule
    broken apart, such as SO3 + O2-) while it has minima in named states: how far below the lowest
    of those it lies. Most often a hole of the model (no training data of such structures), which
    the model's own level of theory should check before it is believed."""
    first = {}
    for k in res.ranked:
        first.setdefault(res.compositions[k], []).append(int(k))
    out = []
    for comp, ks in first.items():
        if res.final_states[ks[0]] != OTHER:
            continue
        named = [k for k in ks if res.final_states[k] != OTHER]
        if not named:
            continue
        j = named[0]
        out.append(
            f"the lowest minimum of {comp} (candidate {ks[0]}) is in no named state (a molecule broken apart), "
            f"{rel[j] - rel[ks[0]]:.2f} kcal/mol below the lowest named one (candidate {j}, {res.final_states[j]}): "
            "often a hole of the model; check it at the model's level of theory (painnjax label) before trusting it"
        )
    return out


def best_frames(res: ScreenResult, rel: np.ndarray, keep: int) -> list:
    """The lowest ``keep`` distinct minima, lowest first, with their rank, candidate index, energy
    relative to the lowest (kcal/mol) and committee spreads where known in ``info``."""
    best = []
    for rank, k in enumerate(res.ranked[:keep]):
        a = res.structures[k].copy()
        a.calc = res.structures[k].calc
        a.info.update(rank=rank, candidate_index=int(k), relative_energy_kcal_mol=float(rel[k]))
        if np.isfinite(res.energy_spread[k]):
            a.info.update(
                energy_spread_kcal_mol=float(res.energy_spread[k] / KCAL_PER_MOL),
                force_spread_eV_per_A=float(res.force_spread[k]),
            )
        best.append(a)
    return best


def summary_csv(res: ScreenResult, rel: np.ndarray) -> str:
    """``summary.csv``: one row per candidate (:data:`SUMMARY_COLUMNS`)."""
    rank_of = {int(k): r for r, k in enumerate(res.ranked)}
    lines = [SUMMARY_COLUMNS]
    for k in range(len(res.energies)):
        lines.append(
            ",".join(
                [
                    str(k),
                    res.compositions[k],
                    f"{res.energies[k]:.6f}",
                    f"{rel[k]:.4f}",
                    str(bool(res.converged[k])),
                    str(int(res.steps[k])),
                    f"{res.fmax[k]:.5f}",
                    str(int(res.same_as[k]) if res.same_as[k] != k else ""),
                    str(rank_of.get(k, "")),
                    _fmt(res.energy_spread[k] / KCAL_PER_MOL),
                    _fmt(res.force_spread[k]),
                    res.states[k],
                    res.final_states[k],
                    str(res.force_calls[k]) if res.force_calls[k] >= 0 else "",
                    str(res.structures[k].info.get("parent", "")),
                    str(res.structures[k].info.get("refine_round", "")),
                    str(res.structures[k].info.get("move", "")) if k >= res.given else "",
                    str(res.structures[k].info.get("partner", "")) if k >= res.given else "",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def duplicates(res: ScreenResult) -> int:
    """How many converged minima duplicate a lower one."""
    return int(sum(1 for k in range(len(res.energies)) if res.converged[k] and res.same_as[k] != k))


def summary_record(res: ScreenResult, settings: dict, kept: int, rel: np.ndarray) -> dict:
    """The ``screen.json`` of a finished screen: its settings, counts, timings and states."""
    return {
        "settings": settings,
        "finished": True,
        "candidates": len(res.energies),
        "given_candidates": res.given,
        "refinement_candidates": len(res.energies) - res.given,
        "lowest_from_refinement": bool(len(res.ranked) and res.ranked[0] >= res.given),
        "converged": int(res.converged.sum()),
        "not_converged": int((~res.converged).sum()),
        "duplicates": duplicates(res),
        "distinct_minima": len(res.ranked),
        "kept": kept,
        "lowest_energy_eV": float(res.energies[res.ranked[0]]) if len(res.ranked) else None,
        "resumed_from": res.resumed,
        "seconds": res.seconds,
        "compile_seconds": res.compile_seconds,
        "structures_per_second": res.structures_per_second,
        "mean_steps": float(res.steps.mean()),
        "mean_force_calls": _mean_known(res.force_calls),
        "states": state_counts(res, rel),
        "lowest_state": res.final_states[res.ranked[0]] if len(res.ranked) else None,
        "found": res.found,
        "search": res.search,
    }


def format_counts(res: ScreenResult, summary: dict, out: Path) -> str:
    """The closing line: candidates, converged, duplicates, distinct minima, speed, where the best went."""
    made = (
        f" ({res.given} given + {len(res.energies) - res.given} from refinement)"
        if res.given < len(res.energies)
        else ""
    )
    return (
        f"{summary['candidates']} candidates{made}: {summary['converged']} converged, {summary['not_converged']} not "
        f"(in unconverged.extxyz, not ranked), {summary['duplicates']} duplicates, {summary['distinct_minima']} "
        f"distinct minima; {res.structures_per_second:.2f} structures/s (+{res.compile_seconds:.1f} s compile); "
        f"wrote {out}/best.extxyz"
    )


def format_found(res: ScreenResult) -> list[str]:
    """The closing lines: per composition how many times its lowest minimum was found (and how many of those
    independently), and why the refinement stopped, e.g. ``"SA2AM2: lowest minimum -1234.56789 eV
    (candidate 61) found 5 times (3 independently); search stopped after round 6 of 10: no improvement >
    0.1 kcal/mol in 3 rounds"``."""
    search = res.search
    if search is None:
        why = "no refinement"
    elif search["stopped"] == "patience":
        why = (
            f"search stopped after round {search['rounds']} of {search['max_rounds']}: no improvement > "
            f"{search['energy_window_kcal_mol']:g} kcal/mol in "
            f"{search['patience']} round{'s' if search['patience'] != 1 else ''}"
        )
    elif search["stopped"] == "nothing to refine":
        why = f"search stopped after round {search['rounds']} of {search['max_rounds']}: no converged minimum to refine"
    elif not search["patience"]:
        why = f"search ran all {search['max_rounds']} rounds (patience 0: no stop rule)"
    else:
        why = (
            f"search ran all {search['max_rounds']} rounds without meeting its stop rule (no improvement > "
            f"{search['energy_window_kcal_mol']:g} kcal/mol in {search['patience']} rounds): more rounds may find "
            "a lower minimum"
        )
    lines = []
    for comp, f in res.found.items():
        times = f"{f['found']} time{'s' if f['found'] != 1 else ''}"
        lines.append(
            f"{comp}: lowest minimum {f['energy_eV']:.5f} eV (candidate {f['candidate']}) found {times} "
            f"({f['independently']} independently); {why}"
        )
    return lines


def _mean_known(calls) -> float | None:
    """Mean force calls per structure where known (-1: not recorded), or None."""
    known = calls[calls >= 0]
    return float(known.mean()) if known.size else None


def state_counts(res: ScreenResult, rel: np.ndarray) -> dict:
    """Per start state: candidates, converged, and the lowest relative energy (kcal/mol) of its minima."""
    out = {}
    states = np.asarray(res.states)
    for state in dict.fromkeys(res.states):
        sel = states == state
        ok = sel & res.converged & np.isfinite(rel)
        out[state] = {
            "candidates": int(sel.sum()),
            "converged": int((sel & res.converged).sum()),
            "lowest_relative_kcal_mol": float(rel[ok].min()) if ok.any() else None,
        }
    return out


def lowest_states(res: ScreenResult) -> list[str]:
    """``"lowest minimum: state SA0B2AM0AH2 (2 proton transfers; candidate 5, started as ...)"``, one line
    per composition."""
    comps = res.compositions
    lowest = {}
    for k in res.ranked:
        lowest.setdefault(comps[k], int(k))
    lines = []
    for comp, k in lowest.items():
        n_ah, state = detect_state(res.structures[k])
        what = (
            "not SA, B, SO4, AM, AH, W, H3O or OH"
            if state == OTHER
            else f"{n_ah} proton transfer{'s' if n_ah != 1 else ''}"
        )
        of = f" of {comp}" if len(lowest) > 1 else ""
        lines.append(f"lowest minimum{of}: state {state} ({what}; candidate {k}, started as {res.states[k]})")
    return lines


def _fmt(x) -> str:
    return f"{x:.4f}" if np.isfinite(x) else ""


def format_table(res: ScreenResult, rel: np.ndarray, keep: int) -> str:
    """The lowest ``keep`` distinct minima as a table: rank, candidate, composition, E, ΔE, steps,
    the committee's energy spread (when there is one) and the protonation state."""
    rows = [
        f"{'rank':>4s} {'cand.':>6s} {'composition':>12s} {'E (eV)':>14s} {'ΔE (kcal/mol)':>14s} {'steps':>6s}"
        + ("  E spread (kcal/mol)" if np.isfinite(res.energy_spread).any() else "")
        + "  state (start -> minimum, if it moved)"
    ]
    for r, k in enumerate(res.ranked[:keep]):
        spread = f"  {res.energy_spread[k] / KCAL_PER_MOL:19.2f}" if np.isfinite(res.energy_spread[k]) else ""
        start, final = res.states[k], res.final_states[k]
        state = final if start == final else f"{start} -> {final}"
        rows.append(
            f"{r:4d} {k:6d} {res.compositions[k]:>12s} {res.energies[k]:14.5f} {rel[k]:14.2f} {res.steps[k]:6d}{spread}"
            f"  {state}"
        )
    return "\n".join(rows)


def plot_energies(res: ScreenResult, path) -> Path:
    """Histogram of the final energies (kcal/mol above the lowest) of converged and distinct minima."""
    plt = pyplot()
    rel = res.relative_kcal_mol()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ok = res.converged & np.isfinite(rel)
    if ok.any():
        bins = np.histogram_bin_edges(rel[ok], bins=min(40, max(5, int(ok.sum() // 5))))
        ax.hist(rel[ok], bins=bins, color="C0", alpha=0.5, label=f"all converged ({int(ok.sum())})")
        ax.hist(rel[res.ranked], bins=bins, color="C1", alpha=0.8, label=f"distinct minima ({len(res.ranked)})")
        ax.legend(frameon=False)
    ax.set_xlabel("energy above the lowest minimum (kcal/mol)")
    ax.set_ylabel("structures")
    ax.set_title(f"{len(res.energies)} candidates, {int((~res.converged).sum())} not converged")
    fig.tight_layout()
    return save_figure(fig, path)
