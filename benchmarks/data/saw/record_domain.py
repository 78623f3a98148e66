#!/usr/bin/env python
"""Record again the domain of a model fine-tuned before painnjax counted old frames once
(2026-12-08): the run's training and validation frames merged with the start model's domain by
``painnjax.training.outputs.training_domain``. Weights untouched; the file is written again with
``painnjax.save_model`` (checksummed).

    python benchmarks/data/saw/record_domain.py MODEL RUN/split.json START DATA...
    (the water model: painnjax/models/saamw-gfn1.painn RUN/split.json saam-gfn1 <finetune1.toml's files>)
"""

from __future__ import annotations

import dataclasses
import json
import sys

from painnjax.data.dataset import read_dataset
from painnjax.data.splits import Split
from painnjax.io.modelfile import load_model, save_model
from painnjax.training.outputs import training_domain


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, split_path, start, *data = argv
    model = load_model(path)
    split = Split.from_dict(json.loads(open(split_path).read()))
    ds = read_dataset(data, require_forces=False)
    if len(ds) != split.n_structures:
        print(
            f"record_domain: {len(ds)} frames, the split has {split.n_structures}: not the run's data", file=sys.stderr
        )
        return 2
    metadata = dict(model.metadata)
    metadata["domain"] = training_domain(ds, split, start)
    save_model(dataclasses.replace(model, metadata=metadata), path)
    print(f"wrote {path}: {metadata['domain'].get('n_frames')} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
