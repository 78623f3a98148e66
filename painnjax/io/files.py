"""Files that survive a kill: atomic writes, and extxyz logs appended frame by frame.

- :func:`atomic_write`: a whole file via a temporary file and ``os.replace``;
  :func:`write_json`: JSON the same way (the one JSON writer: numpy scalars and arrays become
  numbers and lists, paths strings).
- :class:`ExtxyzAppender` (with :func:`extxyz_text` and :func:`lock_for_writing`): results
  appended one whole frame per write and flush, the file locked against a second writer;
  :func:`complete_extxyz_end` finds where the last complete frame ends, so a resumed job can
  cut off a frame that a kill left half-written. ``painnjax label`` and ``painnjax screen``
  keep their results this way.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from painnjax.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _json_default(x):
    """numpy numbers and arrays, paths and other plain values that ``json`` does not know."""
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if hasattr(x, "__array__"):  # jax arrays
        return np.asarray(x).tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike, obj, *, indent: int | None = 2) -> Path:
    """``obj`` as JSON (UTF-8, trailing newline) at ``path``, written atomically."""
    return atomic_write(path, json.dumps(obj, indent=indent, default=_json_default, ensure_ascii=False) + "\n")


def complete_extxyz_end(data: bytes, path: Path) -> int:
    """Byte offset of the end of the last complete extxyz frame of ``data``.

    A frame is an atom-count line, a comment line and that many atom lines, each ending in a
    newline. What follows the last complete frame must be the beginning of one (a count line,
    possibly itself cut short, or blank lines); otherwise the file is not ours or is damaged.
    """
    pos = end = 0
    n = len(data)
    frames = 0
    while pos < n:
        nl = data.find(b"\n", pos)
        line = data[pos:] if nl < 0 else data[pos:nl]
        text = line.strip()
        if not text:  # blank lines: skipped (and cut off with an incomplete frame after them)
            if nl < 0:
                break
            pos = nl + 1
            continue
        try:
            count = int(text)
            if count < 0:
                raise ValueError
        except ValueError:
            line_no = data.count(b"\n", 0, pos) + 1
            raise InputError(
                f"{path}: line {line_no} (after {frames} complete frames) is not the atom count of "
                f"an extxyz frame: not a file painnjax appends to, or damaged; fix or remove it"
            ) from None
        # skip count line, comment line and `count` atom lines: count + 2 newlines from pos
        q = pos
        for _ in range(count + 2):
            q = data.find(b"\n", q)
            if q < 0:
                return end  # incomplete frame at the end
            q += 1
        pos = end = q
        frames += 1
    return end


def extxyz_text(atoms, where: str) -> str:
    from ase.io import write

    buf = io.StringIO()
    try:
        write(buf, atoms, format="extxyz")
    except Exception as exc:  # noqa: BLE001 - e.g. an info value extxyz cannot hold
        raise InputError(f"{where}: cannot be written as extxyz ({type(exc).__name__}: {exc})") from None
    return buf.getvalue()


class ExtxyzAppender:
    """Appends whole frames to a file, one write and a flush each; the file is locked against a
    second labelling process and opened only when the first frame comes."""

    def __init__(self, path: Path, what: str = ""):
        self.path = Path(path)
        self.what = what  # for the error when another process holds the file, e.g. "labels to it"
        self.fh = None

    def open(self):
        if self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path, "a", encoding="utf-8")
            lock_for_writing(self.fh, self.path, self.what)
        return self

    def append(self, text: str) -> None:
        self.open()
        self.fh.write(text)
        self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def lock_for_writing(fh, path: Path, what: str = "") -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise InputError(
            f"{path}: another process is writing {what or 'to it'}; wait for it or choose another file"
        ) from None


def write_extxyz_atomic(path, frames) -> Path:
    """Frames (``ase.Atoms``; none gives an empty file) as one extxyz file, written atomically."""
    from ase.io import write

    buf = io.StringIO()
    if frames:
        write(buf, list(frames), format="extxyz")
    return atomic_write(path, buf.getvalue())
