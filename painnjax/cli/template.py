"""The ``template`` command: a commented starting config file for ``md``, ``screen``, ``train`` or ``learn``.

The values are the defaults of the config dataclasses and the comments their documented meanings
(:func:`painnjax.config.field_notes`), so a template is never a second list to keep up to date, and
it reads back through the command's ``--config`` as those defaults.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from md.dynamics.config import FILE_SECTIONS as MD_SECTIONS
from md.screening.config import FILE_SECTIONS as SCREEN_SECTIONS
from painnjax.cli import dynamics, screening
from painnjax.config import Section, field_notes, toml_text
from painnjax.errors import InputError
from painnjax.io.files import atomic_write, check_writable
from painnjax.training.workflow import SECTIONS as RUN_SECTIONS

# md.dynamics.config and md.screening.config load no more than dataclasses (painnjax/cli/dynamics.py and
# screening.py import them at their heads too); painnjax.training.workflow is loaded by `import painnjax.cli`.

#: the commands a template is written for, and how each one's file is used
USES = {
    "md": "painnjax md MODEL START --steps N --out DIR --config THIS_FILE",
    "screen": "painnjax screen MODEL --composition SA4AM4 --out DIR --config THIS_FILE",
    "train": "painnjax train --data FILE [FILE ...] --out DIR --config THIS_FILE",
    "learn": "painnjax learn --data FILE --test FILE --out DIR --config THIS_FILE",
}


def file_sections(command: str) -> dict[str, Section]:
    """The sections of ``command``'s ``--config`` file."""
    if command == "md":
        return MD_SECTIONS
    if command == "screen":
        return SCREEN_SECTIONS
    return {name: Section(cls) for name, cls in RUN_SECTIONS.items()}  # train, and learn's training config


def _options(command: str) -> dict[str, dict[str, str]]:
    """``{section: {key: the option that beats it}}`` of the command line."""
    if command == "md":
        return {"md": {key: f"--{dest.replace('_', '-')}" for dest, key in dynamics.MD_KEYS.items()}}
    if command == "screen":
        out: dict[str, dict[str, str]] = {"screen": {}, "refine": {}}
        for dest, (section, key) in screening.KEYS.items():
            out[section][key] = f"--{dest.replace('_', '-')}"
        return out
    if command == "train":
        return {"train": {"epochs": "--epochs", "batch_size": "--batch-size", "seed": "--seed"}}
    return {"train": {"epochs": "--epochs (per round)"}}


def template_text(command: str) -> str:
    """The commented TOML template of ``command``'s ``--config`` file: every key at its default."""
    if command not in USES:
        raise InputError(f"no template for {command!r}; known: {', '.join(USES)}")
    sections = file_sections(command)
    options = _options(command)
    tables, notes, unset = {}, {}, []
    for name, sec in sections.items():
        defaults = sec.cls()
        keys = [f.name for f in dataclasses.fields(sec.cls) if f.init and f.name not in sec.exclude]
        tables[name] = {key: getattr(defaults, key) for key in keys}
        described = field_notes(sec.cls)
        notes[name] = {}
        for key in keys:
            option = options.get(name, {}).get(key)
            text = re.sub(r"\bNone\b", "not set", described.get(key, ""))  # TOML has no None: a key left out
            if key in sec.unset:
                text += " Left out here: the command line's default counts."
            notes[name][key] = f"{text} [{option} beats it]" if option else text
        unset += [f"{name}.{key}" for key in sec.unset]
    header = (
        f"A starting config for `{USES[command]}` ({'painnjax template ' + command}). Every value is the default; "
        "a key left out (or commented out) takes it; an option given on the command line beats the file. "
        "Units: Å, eV, fs, K, kcal/mol for energy windows. See docs/configs.md."
    )
    if command == "learn":
        header += (
            " `painnjax learn` trains each round with this training config; its own settings (--rounds, "
            "--committee, --T, --md-steps, --threshold, ...) are options: `painnjax learn --help`."
        )
    return toml_text(tables, header=header, notes=notes, unset=tuple(unset))


def cmd_template(args) -> int:
    text = template_text(args.command_name)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.out)
    if path.suffix.lower() in (".yaml", ".yml"):  # --config reads these suffixes as YAML
        raise InputError(f"{path}: a template is TOML; name the file *.toml")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give --out a file name, e.g. {path / (args.command_name + '.toml')}")
    if path.exists():
        raise InputError(f"{path} exists; a template does not overwrite a file (remove it or choose another name)")
    check_writable(path, "--out file")
    atomic_write(path, text)
    print(f"wrote {path}: edit it, then `{USES[args.command_name].replace('THIS_FILE', str(path))}`")
    return 0


def register(sub) -> None:
    t = sub.add_parser(
        "template",
        help="write a commented starting config file (TOML) for md, screen, train or learn, every key at its default",
    )
    t.add_argument("command_name", metavar="COMMAND", choices=tuple(USES), help="md, screen, train or learn")
    t.add_argument(
        "--out",
        metavar="FILE",
        help="write it here, a TOML file (default: print it; an existing file, or a .yaml/.yml name, is refused)",
    )
    t.set_defaults(func=cmd_template)
