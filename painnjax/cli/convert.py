"""Commands that bring other codes' data in: ``convert-jkqc`` (a JKQC database as extxyz)."""

from __future__ import annotations

from painnjax.io.files import check_writable

# painnjax.interfaces.jkqc is imported in the handler, not here: it loads ase and, when it reads, pandas.


def cmd_convert_jkqc(args) -> int:
    from painnjax.interfaces.jkqc import convert_jkqc

    check_writable(args.output, "output file")
    report = convert_jkqc(
        args.database,
        args.output,
        trust_pickle=args.trust_pickle,
        energy_column=args.energy_column,
        energy_unit=args.energy_unit,
        forces_unit=args.forces_unit,
        level=args.level,
    )
    print(report.summary())
    return 0


def register(sub) -> None:
    c = sub.add_parser(
        "convert-jkqc",
        help="a JKQC database (JKCS/ACDB pandas pickle) as an extxyz of energies (eV) and forces (eV/Å)",
        description="Write the rows of a JKQC database (a pandas DataFrame pickle with columns such as "
        "xyz:structure, log:electronic_energy in Hartree and extra:forces in Hartree/Å) as extxyz frames in eV "
        "and eV/Å, with the level of theory, name, charge and multiplicity in each frame's info. The pickle is "
        "read with an unpickler that allows only the pandas, numpy and ASE classes of such a DataFrame; a file "
        "naming another is refused, naming it. --trust-pickle reads a file you trust with full unpickling. "
        "Needs pandas (painnjax[jkqc]).",
    )
    c.add_argument("database", help="JKQC database (.pkl; gzip, bz2 or xz compressed or not)")
    c.add_argument("output", help="extxyz file to write (.extxyz or .xyz; an existing file is refused)")
    c.add_argument(
        "--energy-column",
        default="log:electronic_energy",
        metavar="SECTION:NAME",
        help="the column of the energies (default log:electronic_energy; ORCA-read databases may have "
        "out:electronic_energy)",
    )
    c.add_argument("--energy-unit", default="Hartree", help="unit of that column (default Hartree, JKQC's)")
    c.add_argument(
        "--forces-unit",
        default="Hartree/Angstrom",
        help="unit of extra:forces (default Hartree/Angstrom, what JKQC's Gaussian and ORCA readers store)",
    )
    c.add_argument("--level", help="level of theory for every frame's info (default: the row's log:method)")
    c.add_argument(
        "--trust-pickle",
        action="store_true",
        help="read the database with pandas.read_pickle, which runs any code the file holds: only for a file "
        "you made or whose source you trust (default: only the pandas, numpy and ASE classes of a JKQC "
        "database are allowed)",
    )
    c.set_defaults(func=cmd_convert_jkqc)
