"""The command that serves a model to i-PI (path-integral MD) and other engines of its socket
protocol: ``ipi`` (:mod:`painnjax.interfaces.ipi`)."""

from __future__ import annotations

import math
import sys

from painnjax.cli.common import add_dtype, add_ignore_cell, add_model
from painnjax.errors import InputError
from painnjax.interfaces.ipi import DEFAULT_PORT, UNIX_PREFIX, Address, ServerGone, serve


def cmd_ipi(args) -> int:
    from md.structures import read_structure  # here: md loads jax-md

    if not args.wait >= 0:  # inf: keep trying
        raise InputError(f"--wait must be a number of seconds >= 0, got {args.wait}")
    timeout = None if args.timeout == math.inf else args.timeout  # inf: no limit, as leaving it out
    if timeout is not None and not 0 < timeout < 1e9:  # 0 would make the socket non-blocking
        raise InputError(f"--timeout must be a number of seconds > 0, got {timeout}")
    address = Address.parse(args.address, args.unix, args.host, args.port)
    atoms = read_structure(args.structure, ignore_cell=args.ignore_cell)
    print(f"painnjax ipi: {args.model} on {atoms.get_chemical_formula()} ({len(atoms)} atoms), waiting for {address}")
    sys.stdout.flush()
    try:
        stats = serve(args.model, atoms, address, dtype=args.dtype, wait=args.wait, timeout=timeout)
    except ServerGone as exc:
        print(f"painnjax ipi: {exc}", file=sys.stderr)
        return 1
    ms = 1000 * stats.seconds_per_call
    print(
        f"painnjax ipi: the server ended the run: {stats.force_calls} force calls, the first (compiling) "
        f"{stats.first_call_seconds:.1f} s, then {ms:.3g} ms each in the model; {stats.wall_seconds:.1f} s in all"
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "ipi",
        help="serve a model's energies and forces to an i-PI server (path-integral MD) over a UNIX or TCP socket",
        description="Connect to an i-PI server (or another engine speaking i-PI's socket protocol, such as "
        "ASE's SocketIOCalculator) and answer its force requests with the model until it sends EXIT. "
        "Exit status: 0 the server ended the run; 1 the server went away or stayed silent past --timeout; "
        "2 bad input (no server at the address within --wait, a structure of other atoms). See docs/ipi.md.",
    )
    add_model(p)
    p.add_argument(
        "structure",
        help="the structure i-PI starts from (any ASE-readable file, its last frame, or a bundled name such as "
        "SA2AM2): the species, in i-PI's atom order",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--unix",
        metavar="NAME",
        help=f"i-PI's UNIX socket NAME (<ffsocket mode='unix'>), the file {UNIX_PREFIX}NAME (default: none, TCP at "
        "--host and --port)",
    )
    where.add_argument(
        "--address",
        help=f"unix:NAME or HOST:PORT (default: none, TCP at --host and --port: localhost:{DEFAULT_PORT})",
    )
    p.add_argument("--host", help="TCP host of the server (<ffsocket mode='inet'>; default localhost)")
    p.add_argument("--port", type=int, help=f"TCP port of the server (default {DEFAULT_PORT})")
    p.add_argument(
        "--wait",
        type=float,
        default=20.0,
        metavar="S",
        help="keep trying to connect for S seconds (i-PI opens its socket a few seconds after it starts; default 20)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up when the server sends nothing for S seconds, S > 0 (default: wait as long as it runs)",
    )
    add_dtype(p)
    add_ignore_cell(p)
    p.set_defaults(func=cmd_ipi)
