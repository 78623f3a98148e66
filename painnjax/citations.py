"""What to cite: the works painnjax builds on and the sources of its data, as data, and which of
them apply to a model (:func:`citations_for`, shown by ``painnjax info``).

The same list, with why each work is cited, is in ``CITATION.cff`` and ``docs/citing.md``; a test
holds the three to the same DOIs. DOIs are given only where the source of the data or the
publisher names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from painnjax._version import __version__


@dataclass(frozen=True)
class Reference:
    """One work to cite. ``authors`` as "Family, G." in the order of the work; ``where`` is the
    journal, volume and pages (or the conference or preprint server)."""

    key: str
    authors: tuple[str, ...]
    title: str
    where: str
    year: int
    doi: str | None = None
    url: str | None = None
    why: str = ""

    @property
    def link(self) -> str:
        """``doi:...`` where the work has a DOI, else its URL (or nothing)."""
        return f"doi:{self.doi}" if self.doi else (self.url or "")

    def text(self) -> str:
        """The reference on one line: authors, title, where (year), doi or URL."""
        names = self.authors[0] if len(self.authors) == 1 else ", ".join(self.authors[:-1]) + " and " + self.authors[-1]
        return ", ".join(filter(None, (names, self.title, f"{self.where} ({self.year})", self.link)))

    def short(self) -> str:
        """First author (et al.), where (year), doi or URL: one short line for ``painnjax info``."""
        if self.key == "painnjax":
            return self.title
        family = [a.split(",")[0] for a in self.authors]
        names = " and ".join(family) if len(family) <= 2 else f"{family[0]} et al."
        return ", ".join(filter(None, (names, f"{self.where} ({self.year})", self.link)))


PAINNJAX = Reference(
    "painnjax",
    ("the painnjax authors",),
    f"painnjax {__version__}: PaiNN potentials in JAX for atmospheric molecular clusters",
    "software",
    2026,
    why="this code and the shipped model weights",
)

STUDY = Reference(
    "kubecka2024",
    ("Kubečka, J.", "Ayoubi, D.", "Tang, Z.", "Knattrup, Y.", "Engsvang, M.", "Wu, H.", "Elm, J."),
    "Accurate modeling of the potential energy surface of atmospheric molecular clusters boosted by neural networks",
    "Environ. Sci.: Adv. 3, 1438-1451",
    2024,
    doi="10.1039/d4va00255e",
    why="the reference study whose PaiNN pipeline painnjax re-does in JAX; source of the k24 start structures",
)

PAINN = Reference(
    "schutt2021",
    ("Schütt, K. T.", "Unke, O. T.", "Gastegger, M."),
    "Equivariant message passing for the prediction of tensorial properties and molecular spectra",
    "Proc. 38th Int. Conf. Machine Learning (ICML), PMLR 139, 9377-9388",
    2021,
    url="https://proceedings.mlr.press/v139/schutt21a.html",
    why="the PaiNN architecture",
)

SCHNETPACK = Reference(
    "schutt2023",
    ("Schütt, K. T.", "Hessmann, S. S. P.", "Gebauer, N. W. A.", "Lederer, J.", "Gastegger, M."),
    "SchNetPack 2.0: A neural network toolbox for atomistic machine learning",
    "J. Chem. Phys. 158, 144801",
    2023,
    doi="10.1063/5.0138367",
    why="the PaiNN implementation whose energies, forces and model files painnjax reproduces",
)

KNN = Reference(
    "seppalainen2025",
    ("Seppäläinen, L.", "Kubečka, J.", "Elm, J.", "Puolamäki, K."),
    "Fast and interpretable machine learning modelling of atmospheric molecular clusters",
    "arXiv:2509.11728",
    2025,
    url="https://arxiv.org/abs/2509.11728",
    why="k-nearest-neighbour regression of binding energies (the k-NN comparison)",
)

ACDB = Reference(
    "elm2019",
    ("Elm, J.",),
    "An atmospheric cluster database consisting of sulfuric acid, bases, organics, and water",
    "ACS Omega 4, 10965-10974",
    2019,
    doi="10.1021/acsomega.9b00860",
    url="https://github.com/elmjonas/ACDB",
    why="the Atmospheric Cluster Database (ACDB), where the start and bundled structures come from",
)

ACDB2 = Reference(
    "kubecka2023",
    ("Kubečka, J.", "Besel, V.", "Neefjes, I.", "Knattrup, Y.", "Kurtén, T.", "Vehkamäki, H.", "Elm, J."),
    "Computational tools for handling molecular clusters: configurational sampling, storage, analysis, "
    "and machine learning",
    "ACS Omega 8, 45115-45128",
    2023,
    doi="10.1021/acsomega.3c07412",
    why="ACDB 2.0, which holds the reference study's data",
)

WU2023 = Reference(
    "wu2023",
    ("Wu, H.", "Engsvang, M.", "Knattrup, Y.", "Kubečka, J.", "Elm, J."),
    "Improved configurational sampling protocol for large atmospheric molecular clusters",
    "ACS Omega 8, 45065-45077",
    2023,
    doi="10.1021/acsomega.3c06794",
    why="the lowest-free-energy (SA)n(AM)n structures (B97-3c) bundled in painnjax/data and used as MD starts",
)

GFN1 = Reference(
    "grimme2017",
    ("Grimme, S.", "Bannwarth, C.", "Shushkov, P."),
    "A robust and accurate tight-binding quantum chemical method for structures, vibrational frequencies, "
    "and noncovalent interactions of large molecular systems parametrized for all spd-block elements (Z = 1-86)",
    "J. Chem. Theory Comput. 13, 1989-2009",
    2017,
    doi="10.1021/acs.jctc.7b00118",
    why="GFN1-xTB, the level of the energies and forces of the saam-gfn1 data (computed with tblite)",
)

#: Every reference, by key, in the order of ``docs/citing.md``.
REFERENCES: dict[str, Reference] = {
    r.key: r for r in (PAINNJAX, STUDY, PAINN, SCHNETPACK, KNN, ACDB, ACDB2, WU2023, GFN1)
}

#: What every painnjax model rests on: the code, the study it re-does, the architecture and the
#: implementation it reproduces.
METHOD = (PAINNJAX, STUDY, PAINN, SCHNETPACK)

#: Data sets a model's metadata can name (in ``training.data_sources``, ``init_from``, its own
#: name, its monomer file or its domain's level of theory), by a marker in the path or name, and
#: the works to cite for them. The SA-AM GFN1-xTB
#: pool (../shared/data/saam_gfn1, the bundled saam-gfn1 files, benchmarks/data/n7-9) is MD from
#: ACDB structures (Wu et al. 2023 and the reference study's QC folder) labelled with GFN1-xTB.
DATA_SOURCES: tuple[tuple[str, tuple[Reference, ...]], ...] = (
    ("saam_gfn1", (GFN1, WU2023, ACDB, ACDB2)),
    ("saam-gfn1", (GFN1, WU2023, ACDB, ACDB2)),
    # the SA-W frames (benchmarks/data/saw): GFN1-xTB MD from the reference study's B97-3c structures in ACDB
    ("data/saw/", (GFN1, ACDB, ACDB2)),
    ("saamw-gfn1", (GFN1, WU2023, ACDB, ACDB2)),
    ("gfn1", (GFN1,)),
)


def _named_sources(metadata: Mapping) -> list[str]:
    """The data files and model names a model's metadata records as its origin."""
    names = [str(metadata.get("name") or ""), str(metadata.get("source") or "")]
    training = metadata.get("training") or {}
    if isinstance(training, Mapping):
        names += [str(s) for s in training.get("data_sources") or ()]
    init_from = metadata.get("init_from") or {}
    if isinstance(init_from, Mapping):
        names.append(str(init_from.get("name") or ""))
    domain = metadata.get("domain") or {}
    if isinstance(domain, Mapping):
        names.append(str(domain.get("level") or ""))  # the level of theory of the training frames
    reference = metadata.get("energy_reference") or {}
    if isinstance(reference, Mapping):
        trained_on = reference.get("trained_on") or reference
        if isinstance(trained_on, Mapping):
            names.append(str(trained_on.get("monomer_file") or ""))
    return [n.lower() for n in names if n]


def citations_for(metadata: Mapping) -> list[Reference]:
    """The works to cite when using a model with this metadata: :data:`METHOD`, then the
    sources of the data it was trained on that the metadata names (see :data:`DATA_SOURCES`),
    each once. A model whose data is not recognised gets the method references only: cite its
    data's own sources too."""
    cited = list(METHOD)
    for name in _named_sources(metadata):
        for marker, refs in DATA_SOURCES:
            if marker in name:
                cited += [r for r in refs if r not in cited]
    return cited
