"""painnjax.citations, CITATION.cff and docs/citing.md: one list of works, the right ones for a model."""

import re
from pathlib import Path

import pytest
import yaml

from painnjax import load_model
from painnjax._version import __version__
from painnjax.citations import ACDB, GFN1, METHOD, REFERENCES, STUDY, WU2023, Reference, citations_for

ROOT = Path(__file__).resolve().parents[2]
DOI = re.compile(r"^10\.\d{4,9}/\S+$")


@pytest.fixture(scope="module")
def cff():
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_has_the_fields_of_cff_1_2(cff):
    # The required keys of CFF 1.2.0 and what GitHub's "Cite this repository" shows.
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"].startswith("painnjax")
    assert cff["version"] == __version__
    assert cff["license"] == "MIT"
    assert cff["authors"] == [{"name": "the painnjax authors"}]
    for ref in cff["references"]:
        assert ref["type"] in ("article", "conference-paper", "software", "dataset")
        assert ref["title"] and isinstance(ref["year"], int)
        assert ref["authors"] and all(a.get("family-names") for a in ref["authors"])
        assert "doi" not in ref or DOI.match(ref["doi"]), ref["doi"]


def test_cff_docs_and_module_cite_the_same_works(cff):
    docs = (ROOT / "docs" / "citing.md").read_text(encoding="utf-8")
    cff_dois = {r["doi"] for r in cff["references"] if "doi" in r}
    module_dois = {r.doi for r in REFERENCES.values() if r.doi}
    assert cff_dois == module_dois
    assert all(doi in docs for doi in module_dois)
    # What has no DOI is named by its address in all three.
    for ref in REFERENCES.values():
        if not ref.doi and ref.url:
            assert ref.url in docs
            assert any(ref.url == r.get("url") for r in cff["references"]), ref.key
    # The study, PaiNN, SchNetPack, the k-NN study and ACDB, as the issue asks.
    assert {"kubecka2024", "schutt2021", "schutt2023", "seppalainen2025", "elm2019"} <= set(REFERENCES)
    assert STUDY.doi == "10.1039/d4va00255e"


def test_bundled_model_cites_method_and_its_gfn1_data():
    cited = citations_for(load_model("saam-gfn1").metadata)
    assert cited[: len(METHOD)] == list(METHOD)
    assert GFN1 in cited and WU2023 in cited and ACDB in cited
    assert len(cited) == len(set(cited))


def test_model_of_unknown_data_cites_the_method_only():
    assert citations_for({}) == list(METHOD)
    other = {"name": "my-model", "training": {"data_sources": ["runs/b3lyp_water.extxyz"]}}
    assert citations_for(other) == list(METHOD)
    # A model fine-tuned from saam-gfn1 inherits its data's references.
    tuned = {"name": "mine", "init_from": {"name": "saam-gfn1"}, "training": {"data_sources": ["mine.extxyz"]}}
    assert GFN1 in citations_for(tuned) and WU2023 in citations_for(tuned)
    # Data of unknown files at a level the metadata records: the level's reference, not ACDB's.
    labelled = {"name": "mine", "domain": {"level": "GFN1-xTB"}}
    assert citations_for(labelled) == [*METHOD, GFN1]


def test_reference_text_is_one_line_with_doi_or_url():
    line = STUDY.text()
    assert line.startswith("Kubečka, J., ") and " and Elm, J., " in line
    assert line.endswith("(2024), doi:10.1039/d4va00255e") and "\n" not in line
    one = Reference("x", ("Doe, J.",), "A title", "somewhere", 2020, url="https://example.org")
    assert one.text() == "Doe, J., A title, somewhere (2020), https://example.org"
    assert STUDY.short() == "Kubečka et al., Environ. Sci.: Adv. 3, 1438-1451 (2024), doi:10.1039/d4va00255e"
    assert ACDB.short().startswith("Elm, ACS Omega 4")
