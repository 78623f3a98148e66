"""Train / validation / test splits of a :class:`~painnjax.data.dataset.Dataset`.

The test set is chosen first, by a rule that keeps it honest for clusters: whole compositions
(``test_compositions``) and/or the ``test_largest`` largest compositions, which the model then
has to extrapolate to. The rest is split into training and validation at random, by frame or by
whole trajectory (frames of one MD trajectory, 5 fs apart, are strongly correlated, so a random
frame split overstates how well the model generalises).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painnjax.data.dataset import Dataset
from painnjax.errors import InputError
from painnjax.io.files import write_json

SPLIT_FORMAT = "painnjax-split"
SPLIT_VERSION = 1


def _indices(values, name: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else [])
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise InputError(f"split: {name} must be integer indices, got {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if (arr < 0).any():
        raise InputError(f"split: {name} has a negative index ({int(arr[arr < 0][0])})")
    return arr


@dataclass
class Split:
    """Indices into a dataset; ``rule`` says in words how the test set was chosen."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    seed: int
    rule: str
    n_structures: int | None = None  # size of the dataset split (checked by `check`)

    def __post_init__(self):
        self.train = _indices(self.train, "train")
        self.valid = _indices(self.valid, "valid")
        self.test = _indices(self.test, "test")
        self.seed = int(self.seed)
        self.rule = str(self.rule)
        parts = {"train": self.train, "valid": self.valid, "test": self.test}
        seen: dict[int, str] = {}
        for name, idx in parts.items():
            if len(np.unique(idx)) != len(idx):
                raise InputError(f"split: {name} lists an index twice")
            for i in idx.tolist():
                if i in seen:
                    raise InputError(f"split: structure {i} is in both {seen[i]} and {name}")
                seen[i] = name
        if self.n_structures is not None:
            self.n_structures = int(self.n_structures)
            if seen and max(seen) >= self.n_structures:
                raise InputError(f"split: index {max(seen)} is out of range for {self.n_structures} structures")

    def check(self, ds: Dataset) -> None:
        """Raise :class:`InputError` if this split cannot belong to ``ds`` (size or index range)."""
        n = len(ds)
        if self.n_structures is not None and self.n_structures != n:
            raise InputError(f"split was made for {self.n_structures} structures, the dataset has {n}")
        top = max((int(a.max()) for a in (self.train, self.valid, self.test) if a.size), default=-1)
        if top >= n:
            raise InputError(f"split: index {top} is out of range for a dataset of {n} structures")

    def to_dict(self) -> dict:
        return {
            "format": SPLIT_FORMAT,
            "version": SPLIT_VERSION,
            "seed": self.seed,
            "rule": self.rule,
            "n_structures": self.n_structures,
            "train": self.train.tolist(),
            "valid": self.valid.tolist(),
            "test": self.test.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        if not isinstance(d, dict):
            raise InputError(f"split: expected a mapping, got {type(d).__name__}")
        if d.get("format", SPLIT_FORMAT) != SPLIT_FORMAT:
            raise InputError(f"split: not a painnjax split (format {d.get('format')!r})")
        if int(d.get("version", SPLIT_VERSION)) > SPLIT_VERSION:
            raise InputError(
                f"split: format version {d.get('version')} is newer than this painnjax reads ({SPLIT_VERSION})"
            )
        missing = [k for k in ("train", "valid", "test", "seed", "rule") if k not in d]
        if missing:
            raise InputError(f"split: missing field(s) {', '.join(missing)}")
        try:
            return cls(
                train=d["train"],
                valid=d["valid"],
                test=d["test"],
                seed=d["seed"],
                rule=d["rule"],
                n_structures=d.get("n_structures"),
            )
        except (TypeError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"split: bad field value ({err})") from None

    def save(self, path) -> None:
        """Write JSON atomically (temporary file in the same folder, then ``os.replace``)."""
        write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path) -> Split:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: split file not found")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"{path}: not a readable split file ({err})") from None
        try:
            return cls.from_dict(d)
        except InputError as err:
            raise InputError(f"{path}: {err}") from None

    def __repr__(self) -> str:
        return (
            f"Split(train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}, "
            f"seed={self.seed}, rule={self.rule!r})"
        )


def _composition_sizes(ds: Dataset) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for comp, n in zip(ds.compositions, ds.n_atoms.tolist()):
        sizes[comp] = max(n, sizes.get(comp, 0))
    return sizes


def _trajectory_key(info: dict, i: int) -> str:
    for key in ("name", "source"):
        if info.get(key) is not None:
            return f"{key}:{info[key]}"
    raise InputError(f"structure {i} has neither info['name'] nor info['source']; cannot group it by trajectory")


def make_split(
    ds: Dataset,
    *,
    valid_fraction: float = 0.1,
    seed: int = 42,
    test_compositions=None,
    test_largest: int = 0,
    by: str = "frame",
) -> Split:
    """Split ``ds`` into train / valid / test index sets.

    Test set first: every structure whose ``info["composition"]`` is in ``test_compositions``
    and/or among the ``test_largest`` largest compositions (by atom count; ties broken by
    composition name, ascending). The remaining structures are split with
    ``np.random.default_rng(seed)``: ``by="frame"`` draws round(valid_fraction · n) random
    structures for validation (at least one when valid_fraction > 0); ``by="trajectory"`` puts
    whole trajectories (grouped by ``info["name"]``, else ``info["source"]``) into validation,
    in random order, keeping each one whose addition brings the count closer to
    valid_fraction · n. Index arrays are sorted. Same inputs and seed give the same split.
    """
    n = len(ds)
    if n == 0:
        raise InputError("make_split: the dataset is empty")
    valid_fraction, test_largest, test_compositions, seed = _checked_options(
        valid_fraction, by, test_largest, test_compositions, seed
    )
    is_test, test_rule = _test_set(ds, test_compositions, test_largest)
    test = np.nonzero(is_test)[0]
    rest = np.nonzero(~is_test)[0]
    if rest.size == 0:
        raise InputError(f"nothing left to train on: the test set ({test_rule}) takes all {n} structures")
    rng = np.random.default_rng(seed)
    if by == "frame":
        valid, how = _valid_by_frame(rest, valid_fraction, rng)
    else:
        valid, how = _valid_by_trajectory(ds, rest, valid_fraction, rng)
    train = np.setdiff1d(rest, valid)
    rule = f"test: {test_rule}; valid: {how}, seed {seed}"
    return Split(train=train, valid=valid, test=np.sort(test), seed=seed, rule=rule, n_structures=n)


def _checked_options(valid_fraction, by, test_largest, test_compositions, seed) -> tuple[float, int, list | None, int]:
    """:func:`make_split`'s options, checked: ``(valid_fraction, test_largest, test_compositions, seed)``."""
    try:
        valid_fraction = float(valid_fraction)
    except (TypeError, ValueError):
        raise InputError(f"valid_fraction must be a number in [0, 1), got {valid_fraction!r}") from None
    if not (0.0 <= valid_fraction < 1.0):
        raise InputError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if by not in ("frame", "trajectory"):
        raise InputError(f"by must be 'frame' or 'trajectory', got {by!r}")
    if isinstance(test_largest, bool) or int(test_largest) != test_largest or test_largest < 0:
        raise InputError(f"test_largest must be a non-negative integer, got {test_largest!r}")
    if isinstance(test_compositions, str):
        test_compositions = [test_compositions]
    return valid_fraction, int(test_largest), test_compositions, int(seed)


def _test_set(ds: Dataset, test_compositions, test_largest: int) -> tuple[np.ndarray, str]:
    """Which structures are held out for testing (a mask), and the rule that chose them in words."""
    sizes = _composition_sizes(ds)
    rules = []
    chosen: list[str] = []
    if test_compositions:
        unknown = [c for c in test_compositions if c not in sizes]
        if unknown:
            present = sorted(sizes, key=lambda c: (sizes[c], c))
            raise InputError(
                f"test composition(s) {', '.join(map(str, unknown))} not in the dataset; present: {', '.join(present)}"
            )
        given = list(dict.fromkeys(str(c) for c in test_compositions))
        chosen += given
        rules.append(f"compositions {', '.join(given)}")
    if test_largest:
        if test_largest > len(sizes):
            raise InputError(f"test_largest={test_largest} but the dataset has only {len(sizes)} compositions")
        largest = sorted(sizes, key=lambda c: (-sizes[c], c))[:test_largest]
        chosen += [c for c in largest if c not in chosen]
        rules.append(
            f"the {test_largest} largest composition(s) by atom count "
            f"({', '.join(f'{c}: {sizes[c]} atoms' for c in largest)})"
        )
    comps = np.asarray(ds.compositions, dtype=object)
    is_test = np.isin(comps, np.asarray(chosen, dtype=object)) if chosen else np.zeros(len(ds), bool)
    return is_test, "; ".join(rules) if rules else "none"


def _valid_by_frame(rest: np.ndarray, valid_fraction: float, rng) -> tuple[np.ndarray, str]:
    """round(valid_fraction · len(rest)) structures of ``rest`` drawn at random (at least one when the fraction > 0)."""
    n_valid = int(round(valid_fraction * rest.size))
    if valid_fraction > 0:
        n_valid = max(n_valid, 1)
    if n_valid >= rest.size:
        raise InputError(
            f"nothing left to train on: {rest.size} structure(s) outside the test set, "
            f"valid_fraction={valid_fraction} takes them all"
        )
    perm = rng.permutation(rest)
    return np.sort(perm[:n_valid]), f"{valid_fraction:g} of the remaining structures drawn at random (by frame)"


def _valid_by_trajectory(ds: Dataset, rest: np.ndarray, valid_fraction: float, rng) -> tuple[np.ndarray, str]:
    """Whole trajectories of ``rest`` in random order, each kept when it brings the count closer to the target."""
    target = valid_fraction * rest.size
    groups: dict[str, list[int]] = {}
    for i in rest.tolist():
        groups.setdefault(_trajectory_key(ds.info[i], int(i)), []).append(i)
    names = sorted(groups)
    order = rng.permutation(len(names))
    picked: list[str] = []
    count = 0
    for j in order.tolist():
        size = len(groups[names[j]])
        if abs(count + size - target) < abs(count - target):
            picked.append(names[j])
            count += size
    if valid_fraction > 0 and not picked:
        if len(names) < 2:
            raise InputError(
                f"cannot split by trajectory: only one trajectory ({names[0]}) outside the test set; "
                f"use by='frame' or more trajectories"
            )
        smallest = min((len(groups[names[j]]), pos) for pos, j in enumerate(order.tolist()))
        picked.append(names[order[smallest[1]]])
    if len(picked) == len(names):
        raise InputError(
            f"nothing left to train on: valid_fraction={valid_fraction} takes all {len(names)} trajectories"
        )
    valid = np.sort(np.asarray([i for k in picked for i in groups[k]], np.int64))
    how = (
        f"whole trajectories ({len(picked)} of {len(names)}, grouped by info name/source) drawn at random "
        f"for ≈{valid_fraction:g} of the remaining structures"
    )
    return valid, how


__all__ = ["Split", "make_split"]


def extend_split(old: Split, ds: Dataset, *, test_compositions=None, **options) -> Split:
    """``old`` for the structures it was made for, and a new split of the structures added after them.

    For data that grows (new frames appended to the files of an earlier run, in the same order):
    the first ``old.n_structures`` structures of ``ds`` keep their parts, so a model trained on
    ``old.train`` is never validated or tested on its own training frames, and the validation
    numbers of the two runs are comparable. The added structures are split by :func:`make_split`
    with ``options`` (``valid_fraction``, ``seed``, ``by``, ``test_largest``); frames of
    ``test_compositions`` and of every composition in ``old``'s test set go to the test set.

    Example:
        >>> split = extend_split(Split.load("old_run/split.json"), ds, valid_fraction=0.1, seed=14)  # doctest: +SKIP
    """
    n_old, n = old.n_structures, len(ds)
    if n_old is None:
        raise InputError("the split to extend does not record how many structures it was made for (n_structures)")
    if n_old > n:
        raise InputError(f"the split to extend covers {n_old} structures, more than the {n} of the data")
    comps = list(ds.compositions)
    if isinstance(test_compositions, str):
        test_compositions = [test_compositions]
    held = list(dict.fromkeys([*(test_compositions or []), *(comps[i] for i in old.test.tolist())]))
    if n_old == n:
        return old
    added = ds.subset(np.arange(n_old, n))
    present = set(added.compositions)
    new = make_split(added, test_compositions=[c for c in held if c in present] or None, **options)
    return Split(
        train=np.concatenate([old.train, new.train + n_old]),
        valid=np.concatenate([old.valid, new.valid + n_old]),
        test=np.concatenate([old.test, new.test + n_old]),
        seed=new.seed,
        rule=f"structures 0-{n_old - 1}: {old.rule} | structures {n_old}-{n - 1} (added): {new.rule}",
        n_structures=n,
    )
