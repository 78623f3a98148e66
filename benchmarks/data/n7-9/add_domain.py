#!/usr/bin/env python
"""Record the training domain in the shipped saam-gfn1, which was trained before painnjax recorded one.

    python benchmarks/data/n7-9/add_domain.py [painnjax/models/saam-gfn1.painn]

The domain (:class:`painnjax.data.domain.Domain`) is taken from the frames the model was
trained on: the files of its training record (``training.data_sources``, paths relative to the
repository; ``../shared/data/saam_gfn1/train_pool_300K.extxyz`` lies beside it) less the
compositions held out as its test set (``training.test_compositions``), i.e. its training and
validation sets. Their count is checked against the record's ``n_structures``. The file is
written again with ``painnjax.save_model`` (header checksummed anew); the weights are not
touched, and the model's identity (:func:`painnjax.io.modelfile.model_identity`, which leaves
the domain out) stays the same, so screen and MD folders made with it resume as before.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import jax
from flax import serialization

from painnjax.data.dataset import read_dataset
from painnjax.data.domain import domain_of_dataset
from painnjax.io.modelfile import load_model, model_identity, save_model

ROOT = Path(__file__).resolve().parents[3]


def _weights_digest(model) -> str:
    return hashlib.sha256(serialization.msgpack_serialize(jax.device_get(model.variables))).hexdigest()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[0]) if argv else ROOT / "painnjax" / "models" / "saam-gfn1.painn"
    model = load_model(path)
    training = model.metadata["training"]
    sources = [ROOT / s for s in training["data_sources"]]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        print(f"add_domain: training data not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    ds = read_dataset(sources, require_forces=False)
    test = set(training["test_compositions"])
    kept = [k for k, c in enumerate(ds.compositions) if c not in test]
    expected = training["n_structures"]["train"] + training["n_structures"]["valid"]
    if len(kept) != expected:
        print(f"add_domain: {len(kept)} frames outside the test set, the record says {expected}", file=sys.stderr)
        return 2
    domain = domain_of_dataset(ds, kept)
    size, identity, weights = path.stat().st_size, model_identity(model), _weights_digest(model)
    model.metadata["domain"] = domain.to_json()
    save_model(model, path)
    again = load_model(path)
    assert _weights_digest(again) == weights and model_identity(again) == identity
    print("\n".join(domain.describe()))
    print(f"wrote {path}: {size:,} -> {path.stat().st_size:,} bytes; weights and identity {identity[:19]} unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
