"""The examples run: the README's training config and the SA7AM7 MD script (tiny settings)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path


from painnjax import Model, PaiNNConfig, save_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_small_config_trains_on_the_bundled_set(tmp_path):
    """examples/train_small.toml as the README runs it, for one epoch."""
    from painnjax.train.workflow import train_from_files

    train_from_files(["saam-gfn1-small"], EXAMPLES / "train_small.toml", tmp_path / "run",
                     overrides={"train": {"epochs": 1}}, progress=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_done"] == 1
    assert summary["best_model_test"]["n_structures"] == 60  # SA4AM4 held out
    assert set(summary["best_model_test"]["per_composition"]) == {"SA4AM4"}


def test_md_example_runs_and_plots(tmp_path):
    model = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), seed=0, elements=[1, 7, 8, 16])
    path = save_model(model, tmp_path / "tiny.painn")
    out = tmp_path / "md"
    code = _load("md_sa7am7").main(["--model", str(path), "--ps", "0.01", "--dt", "0.5", "--out", str(out)])
    assert code == 0
    assert (out / "sa7am7_epot_T.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_done"] == 20 or summary["stop_reason"].startswith("safety")
