"""A painnjax model as an i-PI client: energies and forces served over i-PI's socket protocol.

i-PI (path-integral MD, and any engine that speaks its protocol, ASE's ``SocketIOCalculator``
among them) runs the dynamics and sends positions; this client answers with the model's energy
(eV) and forces (eV/Å), one structure (one bead) at a time, until the server says ``EXIT``. The
server sends positions only, so the client takes the species, in the server's atom order, from
a structure (the file i-PI starts from). Messages are framed by ASE's
:class:`~ase.calculators.socketio.IPIProtocol` (atomic units on the wire); the model is
:class:`~painnjax.interfaces.calculator.PaiNNCalculator`. A free cluster is assumed: the cell
the server sends is not used and the virial sent back is zero (no NPT).

Addresses (:class:`Address`): a UNIX socket ``NAME`` is the file ``/tmp/ipi_NAME`` (i-PI's
convention, its ``<ffsocket mode="unix"><address>NAME``), a TCP socket is ``HOST:PORT``
(``<ffsocket mode="inet">``). i-PI opens its socket a few seconds after it starts, so
:func:`connect` keeps trying for ``wait`` seconds.

Example:
    >>> from painnjax.data import bundled_structure
    >>> address = Address.parse(unix="pimd")                                  # doctest: +SKIP
    >>> stats = serve("saam-gfn1", bundled_structure("SA2AM2"), address)      # doctest: +SKIP
    >>> stats.force_calls, stats.seconds_per_call                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from ase import units
from ase.calculators.socketio import IPIProtocol, SocketClosed

from painnjax.data.domain import warn_outside
from painnjax.errors import InputError
from painnjax.interfaces.calculator import PaiNNCalculator

UNIX_PREFIX = "/tmp/ipi_"  # i-PI's UNIX socket of address NAME (ipi.interfaces.sockets)
DEFAULT_PORT = 31415  # i-PI's default TCP port


class ServerGone(Exception):
    """The server closed the connection (or stopped answering) before sending ``EXIT``."""


@dataclass(frozen=True)
class Address:
    """Where the i-PI server listens: a UNIX socket ``unix`` (i-PI's NAME, the file
    ``/tmp/ipi_NAME``), else TCP ``host:port``."""

    unix: str | None = None
    host: str = "localhost"
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, address: str | None = None, unix: str | None = None, host=None, port=None) -> Address:
        """From ``address`` (``unix:NAME`` or ``HOST:PORT``), or ``unix`` NAME, or ``host``/``port``
        (default localhost:31415); more than one form is an :class:`InputError`."""
        forms = [x for x in (address, unix, host or port) if x]
        if len(forms) > 1:
            raise InputError("give the i-PI address once: --address, --unix NAME, or --host/--port")
        if address:
            if address.startswith("unix:"):
                unix = address[len("unix:") :]
            else:
                host, sep, port = address.rpartition(":")
                if not sep or not host:
                    raise InputError(f"--address {address!r}: expected unix:NAME or HOST:PORT")
        if unix is not None:
            name = unix[len(UNIX_PREFIX) :] if unix.startswith(UNIX_PREFIX) else unix
            if not name or "/" in name:
                raise InputError(f"UNIX socket name {unix!r}: expected i-PI's NAME (the file {UNIX_PREFIX}NAME)")
            return cls(unix=name)
        try:
            port = DEFAULT_PORT if port in (None, "") else int(port)
        except ValueError:
            raise InputError(f"i-PI port {port!r}: expected an integer") from None
        if not 0 < port < 65536:
            raise InputError(f"i-PI port {port}: expected 1 to 65535")
        return cls(host=host or "localhost", port=port)

    @property
    def path(self) -> Path | None:
        """The socket file of a UNIX address, else None."""
        return None if self.unix is None else Path(UNIX_PREFIX + self.unix)

    def __str__(self) -> str:
        return f"UNIX socket {self.path}" if self.unix is not None else f"TCP {self.host}:{self.port}"


def connect(address: Address, wait: float = 20.0) -> socket.socket:
    """A socket connected to the server at ``address``, tried for ``wait`` seconds (the server
    may not be listening yet); an :class:`InputError` naming the address when none answers."""
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        if address.unix is not None:
            sock = socket.socket(socket.AF_UNIX)
            target = str(address.path)
        else:
            sock = socket.socket(socket.AF_INET)
            target = (address.host, address.port)
        try:
            sock.connect(target)
            return sock
        except OSError as exc:
            sock.close()
            if time.monotonic() >= deadline:
                why = exc.strerror or type(exc).__name__
                raise InputError(f"no i-PI server at {address} after {wait:g} s ({why})") from None
        except Exception:
            sock.close()
            raise
        time.sleep(0.2)


@dataclass
class ServeStats:
    """What a client did: force calls answered, seconds spent in the model (the first call, which
    compiles it, apart), and how it ended."""

    force_calls: int = 0
    first_call_seconds: float = 0.0
    model_seconds: float = 0.0  # the calls after the first
    wall_seconds: float = 0.0
    ended: str = ""  # "exit" (the server said EXIT)
    energies: list = field(default_factory=list)  # eV, one per force call (``keep_energies``)

    @property
    def seconds_per_call(self) -> float:
        """Model seconds per force call after the first (NaN with fewer than two)."""
        return self.model_seconds / (self.force_calls - 1) if self.force_calls > 1 else float("nan")


def serve(
    model,
    atoms,
    address: Address,
    *,
    dtype: str = "float32",
    wait: float = 20.0,
    timeout: float | None = None,
    keep_energies: bool = False,
) -> ServeStats:
    """Answer the i-PI server at ``address`` with ``model``'s energies and forces for the atoms of
    ``atoms`` (species in the server's order) until it sends ``EXIT``.

    Args:
        model: model file, bundled model name, or :class:`painnjax.Model`.
        atoms: ``ase.Atoms`` with the species, in order (its positions are the server's).
        dtype: ``"float32"`` or ``"float64"`` (float64 is switched on for this call only).
        wait: seconds to keep trying to connect (:func:`connect`).
        timeout: seconds (> 0) the server may stay silent before :class:`ServerGone` (None: no
            limit; a PIMD server with many clients may leave one idle for long).
        keep_energies: record each energy in the result (tests, benchmarks).

    A structure outside the model's training domain (:mod:`painnjax.data.domain`) is warned about
    once, before connecting, attributed to the caller (the calculator, which meets the same
    composition, does not warn again).

    Raises:
        InputError: no server at ``address``, the server sends another number of atoms, or a
            ``timeout`` that is not > 0.
        ServerGone: the connection closed (or stayed silent past ``timeout``) before ``EXIT``.
    """
    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < 1e9):
        raise InputError(f"timeout must be a number of seconds > 0 (or None: no limit), got {timeout!r}")
    t0 = time.perf_counter()
    atoms = atoms.copy()
    atoms.pbc = False
    atoms.cell = None
    stats = ServeStats()
    with jax.enable_x64(dtype == "float64"):
        atoms.calc = PaiNNCalculator(model, dtype=dtype)
        # named as the calculator names it, so that its own check of this composition finds it warned
        label = str(model) if isinstance(model, (str, os.PathLike)) else None
        warn_outside(atoms.calc.model, atoms, label=label, stacklevel=2)
        sock = connect(address, wait)
        sock.settimeout(timeout)
        try:
            _loop(IPIProtocol(sock), atoms, address, stats, keep_energies)
        except TimeoutError:
            raise ServerGone(f"the i-PI server at {address} sent nothing for {timeout:g} s") from None
        except (ConnectionError, SocketClosed) as exc:
            raise ServerGone(
                f"the i-PI server at {address} closed the connection after {stats.force_calls} force call(s) "
                f"({type(exc).__name__})"
            ) from None
        finally:
            sock.close()
    stats.wall_seconds = time.perf_counter() - t0
    return stats


#: the longest init string a server may announce (i-PI sends a few bytes; more is not i-PI's protocol)
MAX_INIT_BYTES = 1 << 20


def _recv_message(protocol, address: Address) -> str:
    """The next 12-byte header; bytes that are not ASCII text are a peer that does not speak i-PI."""
    raw = protocol._recvall(12)
    try:
        return raw.rstrip().decode("ascii")
    except UnicodeDecodeError:
        raise ServerGone(f"the peer at {address} does not speak i-PI's protocol (it sent {raw[:12]!r})") from None


def _recv_array(protocol, count: int, dtype) -> np.ndarray:
    return np.frombuffer(protocol._recvall(count * np.dtype(dtype).itemsize), dtype=dtype).copy()


def _recv_init(protocol, address: Address) -> None:
    """INIT's bead index and init string, read and dropped; a length out of range is not i-PI."""
    _recv_array(protocol, 1, np.int32)
    nbytes = int(_recv_array(protocol, 1, np.int32)[0])
    if not 0 <= nbytes <= MAX_INIT_BYTES:
        raise ServerGone(f"the peer at {address} does not speak i-PI's protocol (INIT announces {nbytes} bytes)")
    if nbytes:
        protocol._recvall(nbytes)


def _recv_positions(protocol, atoms, address: Address) -> np.ndarray:
    """POSDATA's positions (Å). The atom count is checked before the positions are read (a count
    from garbage never sizes a buffer); a count other than the structure's is bad input."""
    _recv_array(protocol, 18, np.float64)  # the cell and its inverse: a free cluster, not used
    natoms = int(_recv_array(protocol, 1, np.int32)[0])
    if natoms != len(atoms):
        if natoms <= 0:
            raise ServerGone(f"the peer at {address} does not speak i-PI's protocol (POSDATA of {natoms} atoms)")
        raise InputError(
            f"the i-PI server at {address} sends {natoms} atoms; the structure given has "
            f"{len(atoms)} ({atoms.get_chemical_formula()}): give the file i-PI starts from"
        )
    positions = _recv_array(protocol, 3 * natoms, np.float64).reshape(natoms, 3) * units.Bohr
    if not np.isfinite(positions).all():
        i = int(np.argmax(~np.isfinite(positions).all(axis=1)))
        raise ServerGone(f"the i-PI server at {address} sent non-finite positions (atom {i}: {positions[i].tolist()})")
    return positions


def _loop(protocol, atoms, address: Address, stats: ServeStats, keep_energies: bool) -> None:
    """The client's side of i-PI's protocol: STATUS, INIT, POSDATA, GETFORCE, until EXIT."""
    state, result = "READY", None
    while True:
        msg = _recv_message(protocol, address)
        if msg == "EXIT":
            stats.ended = "exit"
            return
        if msg == "STATUS":
            protocol.sendmsg(state)
        elif msg == "INIT":
            _recv_init(protocol, address)  # bead index and an init string: nothing this client needs
            state = "READY"
        elif msg == "POSDATA":
            positions = _recv_positions(protocol, atoms, address)
            t = time.perf_counter()
            atoms.positions[:] = positions
            energy, forces = atoms.get_potential_energy(), atoms.get_forces()
            if stats.force_calls:
                stats.model_seconds += time.perf_counter() - t
            else:
                stats.first_call_seconds = time.perf_counter() - t
            stats.force_calls += 1
            if keep_energies:
                stats.energies.append(energy)
            result, state = (energy, forces), "HAVEDATA"
        elif msg == "GETFORCE":
            if result is None:
                raise ServerGone(f"the i-PI server at {address} asked for forces before sending positions")
            protocol.sendforce(result[0], np.asarray(result[1], np.float64), np.zeros((3, 3)))
            result, state = None, "READY"
        else:
            raise ServerGone(f"the peer at {address} sent an unknown message {msg!r} (not i-PI's protocol)")
