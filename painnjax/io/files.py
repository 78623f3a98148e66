"""Files that survive a kill: atomic writes, and extxyz logs appended frame by frame.

- :func:`atomic_write`: a whole file via a temporary file and ``os.replace``;
  :func:`write_json`: JSON the same way (the one JSON writer: numpy scalars and arrays become
  numbers and lists, paths strings); :func:`read_json`: the one reader of JSON files a run
  wrote or a user gives (run records): a damaged one is an InputError naming it, not a traceback.
- :func:`check_writable`: refuses an output file or folder that cannot be written, before the
  work starts (every command checks its outputs with it).
- :class:`ExtxyzAppender` (with :func:`extxyz_text` and :func:`lock_for_writing`): results
  appended one whole frame per write and flush, the file locked against a second writer;
  :func:`complete_extxyz_end` finds where the last complete frame ends, so a resumed job can
  cut off a frame that a kill left half-written. ``painnjax label`` and ``painnjax screen``
  keep their results this way.
- :func:`lock_run_folder`: an exclusive OS lock (``flock``) on a run folder for the whole run,
  so a second process writing into the same folder is refused rather than interleaving files
  (md, train, screen, sample, learn and the vibrational study take it). The kernel drops the
  lock when its process ends, however it ends: a killed run never blocks its restart.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from painnjax.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def user_cache_folder(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/painnjax/PARTS`` (``~/.cache`` when the variable is unset or empty): what painnjax
    keeps between runs for a user (compiled XLA programs, thermo's monomer references); not created here."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "painnjax", *parts)


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


#: what a JSON value of each Python type is called in a message
_JSON_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "true/false"}


def _a(noun: str) -> str:
    """``noun`` with its indefinite article."""
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def read_json(path: str | os.PathLike, what: str, *, fix: str = "", kind: type | None = dict):
    """The JSON value in the file at ``path`` (UTF-8), which holds ``what`` (e.g. ``"screen record"``).

    Every run record that is read back goes through here, so a damaged, truncated or foreign file
    is an :class:`~painnjax.errors.InputError` naming the file and what it should hold, never a
    traceback. ``kind`` (default ``dict``): the type the top-level value must have (``None``: any);
    ``fix``, when given, ends each message (what the user can do about it).
    """
    path = Path(path)
    end = f"; {fix}" if fix else ""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not JSON (not UTF-8 text: {exc.reason} at byte {exc.start}): a damaged {what}{end}"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc}){end}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc}): a damaged {what}{end}") from None
    if kind is not None and not isinstance(value, kind):
        got = "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)
        raise InputError(
            f"{path}: not {_a(what)} (a JSON {got} where {_a(_JSON_KINDS.get(kind, kind.__name__))} belongs){end}"
        )
    return value


def check_writable(path: str | os.PathLike, what: str = "output", *, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before the work starts; returns it as a Path.

    ``folder=True``: ``path`` is a folder to write into (made later when missing); otherwise a
    file (written or replaced later). Nothing is left behind: the nearest folder on the way to
    ``path`` that exists must be a folder in which a temporary file can be made (and is deleted
    again), and what is at ``path`` already must be of the right kind (and, for a file,
    writable). This catches a parent that is a file, a read-only file system and missing
    permissions (which do not stop root). Raises :class:`~painnjax.errors.InputError` naming
    ``path``, ``what`` (e.g. ``"--out folder"``) and the reason.
    """
    path = Path(path)

    def refuse(reason: str):
        raise InputError(f"{path}: cannot write the {what} there: {reason}")

    if path.is_dir():
        if not folder:
            refuse("it is a folder")
    elif path.exists():
        if folder:
            refuse("it is a file, not a folder")
        if not os.access(path, os.W_OK):
            refuse("the file is read-only")
    base = path if folder else path.parent
    while not base.exists() and base.parent != base:  # the nearest part that exists
        base = base.parent
    if not base.is_dir():
        refuse(f"{base} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        refuse(f"cannot create a file in {base} ({exc.strerror or exc})")
    return path


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
    # ase.io is imported where it is used, not at the head: it would add 0.8 s to `import painnjax`,
    # so to every `painnjax` command and `--help` (2026-12-07: `import ase.io` timed after `import painnjax`).
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


def _try_lock(fd: int, path: Path, what: str) -> bool:
    """An exclusive, non-blocking ``flock`` on ``fd``: False when another open file holds it.

    A file system without locks (some network mounts) gives a warning and True: the work goes
    on unprotected rather than never starting. The kernel releases the lock when the file is
    closed or its process ends, also by SIGKILL, so there are no stale locks to clean up.
    """
    try:  # imported here: there is no fcntl off POSIX, and then the file is not locked
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        warnings.warn(
            f"{path}: cannot lock it ({exc.strerror or exc}); nothing keeps a second process from writing "
            f"{what or 'to it'} at the same time",
            RuntimeWarning,
            stacklevel=3,
        )
    return True


def lock_for_writing(fh, path: Path, what: str = "") -> None:
    """Lock the open file ``fh`` (at ``path``) against a second writer, or close it and refuse."""
    if not _try_lock(fh.fileno(), path, what):
        fh.close()
        raise InputError(
            f"{path}: another process is writing {what or 'to it'}; wait for it or choose another file"
        ) from None


LOCK_FILE = ".painnjax.lock"
_held = threading.local()  # per thread: {resolved folder: fd} of the run folders it holds


@contextmanager
def lock_run_folder(path: str | os.PathLike, what: str = "a run"):
    """Hold an exclusive OS lock on the run folder ``path`` (created if missing) for the block.

    The lock is an ``flock`` on ``path/.painnjax.lock`` (the file stays; it records the pid of
    the last holder). A second process (or thread) asking for a folder that is held gets an
    :class:`~painnjax.errors.InputError` naming the folder. Nested use in one thread is fine:
    a command that calls another in the folder it holds (``sample`` runs ``md`` in its work
    folder) takes it again without waiting, and only the outermost block releases it.
    ``what`` names the work in the messages, e.g. ``"an MD run"``. Yields the folder's path.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot be made a run folder ({exc.strerror or exc})") from None
    key = folder.resolve()
    held = getattr(_held, "folders", None)
    if held is None:
        held = _held.folders = {}
    if key in held:  # held by an outer block of this thread, which also releases it
        yield folder
        return
    lock_path = folder / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write in this folder ({exc.strerror or exc})") from None
    try:
        if not _try_lock(fd, lock_path, what):
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            raise InputError(
                f"{folder}: another painnjax process is writing this folder"
                f"{f' ({holder})' if holder else ''}; wait for it to end or choose another folder"
            )
        try:  # who holds it, for the message a second process gets
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {what}\n".encode(), 0)
        except OSError:
            pass
    except BaseException:
        os.close(fd)
        raise
    held[key] = fd
    try:
        yield folder
    finally:
        del held[key]
        os.close(fd)  # releases the lock


def write_extxyz_atomic(path, frames) -> Path:
    """Frames (``ase.Atoms``; none gives an empty file) as one extxyz file, written atomically."""
    from ase.io import write  # here, not at the head: see extxyz_text

    buf = io.StringIO()
    if frames:
        write(buf, list(frames), format="extxyz")
    return atomic_write(path, buf.getvalue())
