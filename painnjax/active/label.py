"""Labelling: single points (energy and forces) of structures -- xTB, PySCF or any ASE calculator -- resumable.

:func:`label_file` is what ``painnjax label`` runs: every frame of the input file(s) (anything
``ase.io.read`` reads) gets a single point -- energy (eV) and forces (eV/Å) -- from a
:class:`~painnjax.active.calculators.Labeller` (tblite's xTB by default; PySCF or an ASE
calculator through ``calculator=``, see :mod:`painnjax.active.calculators`), a fresh
calculation per frame (a frame's label never depends on the frame before it),
and is appended to ``out`` (extxyz) as soon as it is done. ``ase.io.read(out, ":")`` gives the
energies and forces back as calculator results, exactly as :func:`painnjax.read_dataset`
reads training data. The labels of the shared GFN1-xTB data are reproduced to 1e-10 eV.

Output frames keep the input frame's atoms, ``info`` and per-atom arrays, plus

- ``label_index``: the frame's index in the input (all files in order, counted from 0);
- ``label_source``, ``label_frame``: the input file and the frame's index in it;
- ``level``: the labeller's level of theory, e.g. ``"GFN1-xTB"`` or ``"b3lyp/def2-svp (PySCF)"``.

Charge and spin: ``info["charge"]`` (default 0) and ``info["uhf"]``, the number of unpaired
electrons (default 0: singlet; or ``info["multiplicity"]`` = uhf + 1), per frame (PySCF's
``spin`` is uhf).

Periodic frames: the models are for free clusters, so a frame with any ``pbc`` True is an
error naming file and frame, before any single point, unless ``ignore_cell=True``
(``painnjax label --ignore-cell``): its cell and pbc are then dropped and xTB computes the free
cluster, as every other command reads such a frame.

Failures: a frame whose SCF fails (the program raises, e.g. not converged in ``max_iterations``,
an impossible spin; PySCF's SCF not converged in ``max_cycle``) or gives a non-finite energy or
forces is written to the failure file (default: ``out`` with the suffix ``.failed.extxyz``) with
``info["label_error"]`` = the reason, and counted in the :class:`LabelReport`; it is never
silently dropped.

Resuming: run the same call again. Frames whose ``label_index`` is in ``out`` are skipped, so
no frame is labelled twice and none is lost; frames in the failure file are skipped too unless
``retry_failed=True``. Frames of ``out`` that are not the input's (other atoms or positions at
their ``label_index``, another method) are an :class:`~painnjax.errors.InputError` naming the
file and frame: nothing is written then. A frame cut short by a kill (the process died while
appending it) is recognised -- an incomplete last frame, whose first line is an atom count --
and cut off before appending (``LabelReport.truncated_bytes``); that frame is labelled again.
Anything else that cannot be read is an error, never truncated.

Speed: tblite (and PySCF) run OpenMP threads. For clusters of tens of atoms one thread is fastest, and on
a busy machine extra threads slow each single point down many times: set ``OMP_NUM_THREADS=1``
(before Python starts). To use more cores, ``workers=N`` (``painnjax label --workers N``) runs
the single points in N worker processes of this machine, one xTB thread each; ``scheduler=``
a Dask scheduler address (``--scheduler tcp://host:8786``; a ``dask_jobqueue`` cluster's
``scheduler_address`` gives SLURM/PBS nodes) runs them on that cluster's workers. Either way
this process alone writes ``out``, in the order the frames finish, so resuming works as above;
at most a few frames per worker are in flight, and a kill loses only those. Dask's ``tcp://``
is unauthenticated and carries pickles: use a scheduler you control, or ``tls://`` with
certificates; the first message of a ``tcp://`` peer is checked before Dask reads it
(:func:`check_dask_scheduler`), so a peer that is not a Dask server is an error naming it.

Example:
    >>> report = label_file("pool.extxyz", "labels.extxyz", method="GFN1-xTB")  # doctest: +SKIP
    >>> print(report.summary())                                                   # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import iread
from tqdm.auto import tqdm

from painnjax.active.calculators import (
    INSTALL_HINT,
    METHODS,
    Labeller,
    TBLiteLabeller,
    check_method,
    parse_calculator,
    tblite_calculator_class,
)
from painnjax.data.dataset import read_frames
from painnjax.errors import InputError
from painnjax.io.files import ExtxyzAppender, atomic_write, complete_extxyz_end, extxyz_text
from painnjax.validate import as_atomic_numbers, check_positions

OUT_SUFFIXES = (".extxyz", ".xyz")
POSITION_TOLERANCE = 1e-6  # Å; extxyz keeps 8 decimals


# --------------------------------------------------------------------------------------------
# Files


def failed_path_for(out) -> Path:
    """The default failure file of ``out``: ``labels.extxyz`` -> ``labels.failed.extxyz``."""
    out = Path(out)
    return out.with_name(out.stem + ".failed.extxyz") if out.suffix else out.with_name(out.name + ".failed.extxyz")


# --------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True)
class _Frame:
    atoms: object  # ase.Atoms
    source: str
    frame: int
    charge: float
    uhf: int

    @property
    def where(self) -> str:
        return f"{self.source}, frame {self.frame}"


def _charge_and_spin(info: dict, where: str) -> tuple[float, int]:
    charge = info.get("charge", 0)
    try:
        charge = float(charge)
    except (TypeError, ValueError):
        raise InputError(f"{where}: info charge must be a number, got {charge!r}") from None
    if not math.isfinite(charge):
        raise InputError(f"{where}: info charge is not finite ({charge})")
    if charge == int(charge):
        charge = int(charge)
    if "uhf" in info:
        key, uhf = "uhf", info["uhf"]
    elif "multiplicity" in info:
        key, uhf = "multiplicity", info["multiplicity"]
    else:
        return charge, 0
    try:
        value = float(uhf)
    except (TypeError, ValueError):
        value = float("nan")
    if key == "multiplicity":
        value -= 1
    if not (math.isfinite(value) and value == int(value) and value >= 0):
        what = "a positive integer (2S+1)" if key == "multiplicity" else "a non-negative integer (unpaired electrons)"
        raise InputError(f"{where}: info {key} must be {what}, got {uhf!r}")
    return charge, int(value)


def read_inputs(paths, *, ignore_cell: bool = False) -> list[_Frame]:
    """Every frame of ``paths`` (one path or several), checked: errors name file and frame.

    A periodic frame is an error (xTB would compute a periodic energy, which a model of free
    clusters must not learn) unless ``ignore_cell``: then its cell and pbc are dropped and xTB
    computes it as a free cluster (:func:`painnjax.validate.free_cluster`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no input files given")
    frames = []
    for path in paths:
        for k, atoms in enumerate(read_frames(path, ignore_cell=ignore_cell)):
            where = f"{path}, frame {k}"
            if len(atoms) == 0:
                raise InputError(f"{where}: no atoms")
            as_atomic_numbers(atoms.get_atomic_numbers(), source=where)
            check_positions(
                np.asarray(atoms.positions, np.float64), len(atoms), source=where, symbols=atoms.get_chemical_symbols()
            )
            charge, uhf = _charge_and_spin(atoms.info, where)
            frames.append(_Frame(atoms, str(path), k, charge, uhf))
    return frames


# --------------------------------------------------------------------------------------------
# Existing output: complete frames, and an incomplete last one cut short by a kill


@dataclass
class _Existing:
    frames: dict  # label_index -> ase.Atoms (the last one for the failure file)
    end: int  # bytes of complete frames
    size: int  # file size

    @property
    def tail(self) -> int:
        return self.size - self.end


def _read_existing(path: Path, inputs: Sequence[_Frame], lab: Labeller, what: str, unique: bool) -> _Existing:
    """Frames already in ``path`` (``what``: "labels" or "failures"), checked against the input."""
    if not path.exists():
        return _Existing({}, 0, 0)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file for {what}")
    data = path.read_bytes()
    end = complete_extxyz_end(data, path)
    frames: dict[int, object] = {}
    if data[:end].strip():
        text = io.StringIO(data[:end].decode("utf-8", errors="replace"))
        j = 0
        try:
            for j, atoms in enumerate(iread(text, index=":", format="extxyz")):
                _check_existing(atoms, j, path, inputs, lab, what)
                k = int(atoms.info["label_index"])
                if unique and k in frames:
                    raise InputError(
                        f"{path}, frame {j}: label_index {k} is there twice; "
                        f"the file was edited or concatenated by hand"
                    )
                frames[k] = atoms
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever ASE raises on a malformed frame
            raise InputError(
                f"{path}, frame {j}: cannot be read as extxyz ({type(exc).__name__}: {exc}); fix or remove the file"
            ) from None
    return _Existing(frames, end, len(data))


def _check_existing(atoms, j: int, path: Path, inputs: Sequence[_Frame], lab: Labeller, what: str) -> None:
    where = f"{path}, frame {j}"
    k = atoms.info.get("label_index")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise InputError(
            f"{where}: no label_index in its info: not written by painnjax label; choose another output file"
        )
    k = int(k)
    if not 0 <= k < len(inputs):
        raise InputError(
            f"{where}: label_index {k} is beyond the {len(inputs)} input frames: "
            f"these {what} belong to other input; choose another output file"
        )
    level = atoms.info.get("level")
    if level != lab.level:
        raise InputError(
            f"{where}: {what} of level {level!r}, this run computes {lab.level}; choose another output file"
        )
    ref = inputs[k]
    if len(atoms) != len(ref.atoms) or (atoms.numbers != ref.atoms.numbers).any():
        raise InputError(
            f"{where}: label_index {k} holds {atoms.get_chemical_formula()} but input frame {k} "
            f"({ref.where}) is {ref.atoms.get_chemical_formula()}: these {what} belong to other "
            f"input; choose another output file"
        )
    dev = float(np.abs(atoms.positions - ref.atoms.positions).max())
    if not dev <= POSITION_TOLERANCE:
        raise InputError(
            f"{where}: label_index {k} has other positions than input frame {k} ({ref.where}; "
            f"up to {dev:.3g} Å apart): these {what} belong to other input; choose another output file"
        )
    if what == "labels":
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        if "energy" not in results or (lab.forces and "forces" not in results):
            raise InputError(f"{where}: no energy and forces: not a labelled frame")


# --------------------------------------------------------------------------------------------
# Labelling


@dataclass
class LabelReport:
    """What a :func:`label_file` call did.

    ``n_frames``: frames in the input; ``done_before``: labelled by earlier calls (skipped);
    ``failed_before``: failed in earlier calls and not retried; ``labelled`` / ``failed``: by
    this call; ``seconds``: wall time of this call's single points; ``truncated_bytes``: an
    incomplete last frame cut off ``out`` (or the failure file) before appending.
    """

    path: Path
    failed_path: Path
    method: str
    n_frames: int
    done_before: int = 0
    failed_before: int = 0
    labelled: int = 0
    failed: int = 0
    seconds: float = 0.0
    truncated_bytes: int = 0

    @property
    def n_labelled(self) -> int:
        """Frames with labels in ``path`` now."""
        return self.done_before + self.labelled

    @property
    def n_failed(self) -> int:
        """Frames in the failure file now (without labels)."""
        return self.failed_before + self.failed

    @property
    def complete(self) -> bool:
        """Every input frame has its labels."""
        return self.n_labelled == self.n_frames

    @property
    def seconds_per_frame(self) -> float:
        n = self.labelled + self.failed
        return self.seconds / n if n else float("nan")

    def summary(self) -> str:
        """One line: what was done and where it is."""
        parts = [f"{self.method}: {self.labelled} frames labelled now"]
        if self.labelled + self.failed:
            parts[0] += f" in {self.seconds:.1f} s ({self.seconds_per_frame:.3g} s/frame)"
        if self.done_before:
            parts.append(f"{self.done_before} before")
        parts.append(f"{self.n_labelled} of {self.n_frames} in {self.path}")
        if self.n_failed:
            before = f", {self.failed_before} of them before" if self.failed_before else ""
            parts.append(f"{self.n_failed} failed ({self.failed_path}, reason in info label_error{before})")
        if self.truncated_bytes:
            parts.append(f"an incomplete last frame ({self.truncated_bytes} bytes) was cut off and redone")
        return "; ".join(parts)


def _single_point(lab: Labeller, frame: _Frame):
    """``(energy, forces, None)`` or ``(None, None, reason)``; forces None for an energies-only labeller."""
    atoms = frame.atoms.copy()
    atoms.calc = None
    try:
        e, f = lab(atoms, frame.charge, frame.uhf)
        e = float(e)
    except Exception as exc:  # noqa: BLE001 - tblite raises CalculationFailed, PySCF RuntimeError, ASE ...
        reason = str(exc).strip().replace("\n", " ") or type(exc).__name__
        return None, None, f"{type(exc).__name__}: {reason}"
    if not math.isfinite(e):
        return None, None, f"non-finite energy ({e})"
    if f is None:
        return e, None, None
    f = np.asarray(f, np.float64)
    if f.shape != (len(atoms), 3):
        return None, None, f"forces of shape {f.shape}, expected ({len(atoms)}, 3)"
    if not np.isfinite(f).all():
        i = int(np.argmax(~np.isfinite(f).all(axis=1)))
        return None, None, f"non-finite forces (atom {i}: {f[i].tolist()})"
    return e, f, None


def _worker_single_point(lab: Labeller, frame: _Frame):
    """:func:`_single_point` in a worker process (its threads: see :func:`_one_thread`)."""
    return _single_point(lab, frame)


def _one_thread() -> None:
    """Worker initializer: one OpenMP thread, set before tblite's library is loaded there."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_STACKSIZE", "500M")  # tblite's advice for larger systems


WORKER_DIED = "a worker process died while this frame was in flight (killed, or out of memory)"
IN_FLIGHT_PER_WORKER = 2  # frames submitted ahead per worker: busy workers, little lost on a kill
SCHEDULER_TIMEOUT = "30s"  # to reach a Dask scheduler, and for its first message
#: the most a Dask server's first message (its handshake: compression, python and pickle versions,
#: about 60 bytes) may announce; Dask itself allocates whatever length a peer announces
HANDSHAKE_MAX_BYTES = 65536


def _recv_exactly(conn: socket.socket, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``conn`` by ``deadline`` (``time.monotonic``); fewer when the peer closes.
    TimeoutError past the deadline."""
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        part = conn.recv(min(n - len(data), 65536))
        if not part:
            break
        data += part
    return data


def check_dask_scheduler(address: str, timeout: float) -> None:
    """An :class:`InputError` naming ``address`` when the peer there is not a Dask server.

    Dask's ``tcp://`` protocol is unauthenticated and trusts its peer: the client allocates
    whatever length the peer's first message announces (a stray service once made it try 3 EiB),
    waits for that message for ever, then unpickles what the scheduler sends. This reads the
    first message as Dask would, with ``timeout`` seconds in all and at most
    :data:`HANDSHAKE_MAX_BYTES`, and checks it is Dask's handshake (msgpack frames of a map with
    the peer's ``python`` and ``pickle-protocol``). An address nobody listens on is left to
    Dask, which retries until its own timeout (a scheduler may be starting) and says so; other
    schemes (``tls://``: the TLS handshake checks the peer's certificate) are not read here.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
        host, port = parse_host_port(location, 8786)  # Dask's default port
    except ValueError:
        return  # Dask's own error names the bad address
    if scheme != "tcp":
        return
    deadline = time.monotonic() + timeout
    try:
        conn = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError:
        return
    peer = f"the peer at {address!r}"
    with conn:
        try:
            head = _recv_exactly(conn, 8, deadline)
            if len(head) < 8:
                raise InputError(f"{peer} closed the connection without a Dask handshake: not a Dask scheduler")
            (size,) = struct.unpack("<Q", head)
            if not 16 < size <= HANDSHAKE_MAX_BYTES:
                raise InputError(
                    f"{peer} is not a Dask scheduler: it announces a first message of {size} bytes "
                    f"(a Dask handshake has about 60; starts {head!r})"
                )
            body = _recv_exactly(conn, size, deadline)
        except TimeoutError:
            raise InputError(
                f"{peer} accepted the connection but sent no Dask handshake within {timeout:g} s: not a Dask "
                "scheduler (or one too busy to answer)"
            ) from None
        except OSError as exc:
            raise InputError(f"{peer} broke the connection ({exc.strerror or exc}): not a Dask scheduler") from None
    if not _is_dask_handshake(body, size):
        raise InputError(f"{peer} is not a Dask scheduler: its first message is not a Dask handshake ({body[:40]!r})")


def _is_dask_handshake(body: bytes, size: int) -> bool:
    """Whether ``body`` (``size`` bytes announced) is Dask's framing of a handshake: a count of
    frames, their lengths, the frames; one of them a msgpack map with ``python`` or ``pickle-protocol``."""
    if len(body) != size:
        return False
    (n,) = struct.unpack_from("<Q", body)
    if not 1 <= n <= 16 or 8 * (n + 1) > size:
        return False
    lengths = struct.unpack_from(f"<{n}Q", body, 8)
    if 8 * (n + 1) + sum(lengths) != size:
        return False
    start = 8 * (n + 1)
    for length in lengths:
        try:
            message = msgpack.unpackb(body[start : start + length], raw=False)
        except Exception:  # noqa: BLE001 - whatever msgpack makes of garbage: not a handshake
            message = None
        if isinstance(message, dict) and ({"python", "pickle-protocol"} & set(map(str, message))):
            return True
        start += length
    return False


def _single_points(lab: Labeller, inputs, todo, workers: int, scheduler):
    """``(k, (energy, forces, error))`` for every index of ``todo``: in this process, in
    ``workers`` processes (one xTB thread each), or on a Dask cluster; in the order they finish,
    with at most :data:`IN_FLIGHT_PER_WORKER` frames per worker submitted ahead."""
    if scheduler is None and workers == 1:
        for k in todo:
            yield k, _single_point(lab, inputs[k])
        return
    if scheduler is not None:
        try:  # imported here: dask's distributed is an optional extra (painnjax[dask])
            from dask.utils import parse_timedelta
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError as exc:
            raise InputError(
                f"--scheduler needs dask's distributed, which is not installed ({exc}); pip install 'painnjax[dask]'"
            ) from None
        check_dask_scheduler(scheduler, parse_timedelta(SCHEDULER_TIMEOUT))
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a bad address
            why = f"{type(exc).__name__}: {exc}"
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({why})") from None
        try:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            waiting = dask_completed()
            yield from _drain(
                lambda k: client.submit(_worker_single_point, lab, inputs[k], pure=False),
                waiting.add,
                lambda: next(waiting),
                todo,
                n * IN_FLIGHT_PER_WORKER,
            )
        finally:
            client.close()
        return

    # spawn: a fork of a process that has started JAX's or OpenMP's threads can hang
    def new_pool():
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread)

    pools = [new_pool()]
    pending: set = set()

    def submit(k):
        try:
            return pools[-1].submit(_worker_single_point, lab, inputs[k])
        except BrokenProcessPool:  # a worker died: its frames in flight fail (below), the rest go on
            pools[-1].shutdown(wait=False, cancel_futures=True)
            pools.append(new_pool())
            return pools[-1].submit(_worker_single_point, lab, inputs[k])

    def next_done():
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        fut = next(iter(done))
        pending.discard(fut)
        return fut

    try:
        yield from _drain(submit, pending.add, next_done, todo, workers * IN_FLIGHT_PER_WORKER, _pool_result)
    finally:
        pools[-1].shutdown(wait=False, cancel_futures=True)


def _pool_result(fut):
    """A worker's result; a frame in flight when a worker process died (killed, out of memory) is a
    failed frame, so that nothing is lost and ``--retry-failed`` computes it again."""
    try:
        return fut.result()
    except BrokenProcessPool:
        return None, None, WORKER_DIED


def _drain(submit, track, next_done, todo, window: int, result=lambda fut: fut.result()):
    """Keep ``window`` frames submitted; yield ``(k, result(future))`` as each finishes."""
    index = {}
    queue = iter(todo)
    for k in queue:
        fut = submit(k)
        index[fut] = k
        track(fut)
        if len(index) >= window:
            break
    while index:
        fut = next_done()
        k = index.pop(fut)
        for k_next in queue:
            new = submit(k_next)
            index[new] = k_next
            track(new)
            break
        yield k, result(fut)


def _output_frame(frame: _Frame, index: int, level: str, energy=None, forces=None, error=None):
    src = frame.atoms
    atoms = Atoms(numbers=src.numbers, positions=src.positions, cell=src.cell, pbc=src.pbc)
    for key, value in src.arrays.items():
        if key not in ("numbers", "positions", "forces"):
            atoms.arrays[key] = np.array(value)
    atoms.info.update({k: v for k, v in src.info.items() if k != "label_error"})
    atoms.info.update(label_index=int(index), label_source=frame.source, label_frame=int(frame.frame), level=level)
    if error is not None:
        atoms.info["label_error"] = error
    else:
        results = {"energy": energy} if forces is None else {"energy": energy, "forces": forces}
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def _truncate(path: Path, existing: _Existing) -> int:
    if existing.tail:
        os.truncate(path, existing.end)
    return existing.tail


def label_file(
    inp,
    out,
    *,
    method: str | None = None,
    calculator: Labeller | str | None = None,
    failed=None,
    retry_failed: bool = False,
    progress: bool = True,
    accuracy: float = 1.0,
    electronic_temperature: float = 300.0,
    max_iterations: int = 250,
    on_frame: Callable | None = None,
    ignore_cell: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> LabelReport:
    """Energies (eV) and forces (eV/Å) of every frame of ``inp`` (tblite, PySCF, ASE), appended to ``out``.

    See the module doc for the file format, failures and resuming.

    Args:
        inp: one ASE-readable file or several (frames counted in order over all of them).
        out: extxyz file (``.extxyz`` or ``.xyz``) for the labelled frames; if it exists, the
            frames it has are skipped (a resumed run).
        method: ``"GFN1-xTB"`` (the default without ``calculator``), ``"GFN2-xTB"`` or ``"IPEA1-xTB"``.
        calculator: instead of ``method``, a :class:`~painnjax.active.calculators.Labeller` or a
            spec for :func:`~painnjax.active.calculators.parse_calculator` (``"pyscf:b3lyp/def2-svp"``,
            ``"ase:ase.calculators.orca.ORCA,..."``); its ``level`` goes into each frame's info.
        failed: file for frames whose single point failed (default ``out`` with suffix
            ``.failed.extxyz``); written only when a frame fails.
        retry_failed: label the frames in ``failed`` again (those that succeed leave it).
        progress: a tqdm progress bar.
        accuracy, electronic_temperature (K), max_iterations: tblite settings (its defaults;
            not with ``calculator``).
        ignore_cell: label periodic frames as free clusters (cell and pbc dropped, xTB called
            without them); without it a periodic frame is an error before any single point.
        on_frame: called ``on_frame(label_index, atoms)`` after each frame is written, with the
            output frame (labels as its calculator's results, or ``info["label_error"]``).
        workers: single points in this many processes of this machine, one xTB thread each
            (1: in this process, with its own ``OMP_NUM_THREADS``).
        scheduler: a Dask scheduler address (``tcp://host:port``): the single points run on
            that cluster's workers (needs ``distributed``; ``workers`` is then ignored).

    Raises:
        InputError: a missing, unreadable or empty input file, a frame without atoms, with
            non-finite or overlapping positions, a bad charge or spin, a periodic frame without
            ``ignore_cell`` (naming file and frame), an unknown method or calculator spec, the
            program not installed, a frame the labeller cannot compute (an element, a charge), or
            an ``out`` holding other frames.
    """
    if calculator is None:
        lab = TBLiteLabeller(method or "GFN1-xTB", float(accuracy), float(electronic_temperature), int(max_iterations))
    elif method is not None:
        raise InputError(f"give the method ({method!r}) or a calculator ({calculator!r}), not both")
    else:
        lab = parse_calculator(calculator)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    out = Path(out)
    failed = failed_path_for(out) if failed is None else Path(failed)
    for p in (out, failed):
        if p.suffix.lower() not in OUT_SUFFIXES:
            raise InputError(f"{p}: frames are written as extxyz; name the file *.extxyz or *.xyz")
    paths = [inp] if isinstance(inp, (str, os.PathLike)) else list(inp)
    resolved = {Path(p).resolve() for p in paths}
    for name, p in (("output", out), ("failure", failed)):
        if p.resolve() in resolved:
            raise InputError(f"{p}: the {name} file is also an input file; choose another")
    if out.resolve() == failed.resolve():
        raise InputError(f"{out}: the output and the failure file must differ")

    inputs = read_inputs(paths, ignore_cell=ignore_cell)
    lab.check_frames(inputs)
    report = LabelReport(out, failed, lab.level, len(inputs))
    writer, fail_writer = ExtxyzAppender(out, "labels to it"), ExtxyzAppender(failed, "labels to it")
    try:
        if out.exists():
            writer.open()  # lock before reading: nobody else appends meanwhile
        done = _read_existing(out, inputs, lab, "labels", unique=True)
        if failed.exists():
            fail_writer.open()
        old_failed = _read_existing(failed, inputs, lab, "failures", unique=False)
        report.truncated_bytes = _truncate(out, done) + _truncate(failed, old_failed)
        failed_before = {k for k in old_failed.frames if k not in done.frames}
        report.done_before = len(done.frames)
        skip = set(done.frames) | (set() if retry_failed else failed_before)
        report.failed_before = 0 if retry_failed else len(failed_before)
        todo = [k for k in range(len(inputs)) if k not in skip]

        bar = None
        if progress and todo:
            bar = tqdm(
                total=len(inputs),
                initial=len(inputs) - len(todo),
                unit="frame",
                desc=f"label {lab.level}",
                dynamic_ncols=True,
            )
        labelled_now: set[int] = set()
        t0 = time.perf_counter()
        try:
            for k, (e, f, error) in _single_points(lab, inputs, todo, workers, scheduler):
                frame = inputs[k]
                atoms = _output_frame(frame, k, lab.level, e, f, error)
                text = extxyz_text(atoms, frame.where)
                if error is None:
                    writer.append(text)
                    labelled_now.add(k)
                    report.labelled += 1
                else:
                    fail_writer.append(text)
                    report.failed += 1
                report.seconds = time.perf_counter() - t0
                if bar is not None:
                    bar.update(1)
                    if report.n_failed:
                        bar.set_postfix(failed=report.n_failed)
                if on_frame is not None:
                    on_frame(k, atoms)
        finally:
            report.seconds = time.perf_counter() - t0
            if bar is not None:
                bar.close()
        if retry_failed and failed.exists():
            fail_writer.close()
            _compact_failures(failed, inputs, lab, out_indices=set(done.frames) | labelled_now)
    finally:
        writer.close()
        fail_writer.close()
    return report


def _compact_failures(failed: Path, inputs, lab: Labeller, out_indices: set[int]) -> None:
    """After a retry: the failure file keeps, once each, the frames that still have no labels."""
    existing = _read_existing(failed, inputs, lab, "failures", unique=False)
    keep = [existing.frames[k] for k in sorted(existing.frames) if k not in out_indices]
    if not keep:
        failed.unlink()
        return
    atomic_write(failed, "".join(extxyz_text(a, f"{failed}, label_index {a.info['label_index']}") for a in keep))


__all__ = [
    "INSTALL_HINT",
    "METHODS",
    "LabelReport",
    "check_method",
    "failed_path_for",
    "label_file",
    "read_inputs",
    "tblite_calculator_class",
]
