"""Run many ``painnjax`` command lines in one process: the audits' bad-input cases (one start of
Python and JAX instead of one per case; the command line's own entry point, ``painnjax.cli.main``).

Each line of stdin is ``NAME | ARGUMENTS | PATHS`` (PATHS optional, space-separated); for each it
prints ``CASE NAME | rc=N | the first error line`` (else the last line), whether an exception
escaped the command (a traceback), and whether each of PATHS exists afterwards. Lines starting
with ``#`` are skipped. Used by issue32_new_routes.sh:

    printf 'C1 bad dt | md tiny.painn SA1AM1 --config bad.toml | cm\\n' | python cli_batch.py
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import traceback

from painnjax.cli import main


def run(args: list[str]) -> tuple[int, str, bool]:
    """``(exit status, printed text, whether an exception escaped)`` of ``painnjax ARGS``."""
    out, escaped = io.StringIO(), False
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            rc = main(args)
        except SystemExit as exc:  # argparse's errors
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # noqa: BLE001 - what the audit looks for
            traceback.print_exc()
            rc, escaped = 1, True
    return rc, out.getvalue(), escaped


def main_batch(lines) -> None:
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, args, *rest = (part.strip() for part in line.split(" | "))
        rc, text, escaped = run(shlex.split(args))
        shown = text.strip().splitlines() or [""]
        first = next((s for s in shown if re.search("error|refus|another|traceback", s, re.I)), shown[-1])
        print(f"CASE {name} | rc={rc} | {first[:220]}")
        print("  TRACEBACK" if escaped else "  no traceback")
        for path in " ".join(rest).split():
            print(f"  {path} {'exists' if os.path.lexists(path) else 'absent'}")
        sys.stdout.flush()


if __name__ == "__main__":
    main_batch(sys.stdin)
