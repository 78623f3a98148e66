"""The network: hyper-parameters (:mod:`.config`), radial basis and cutoff (:mod:`.radial`),
jit-compatible pair lists (:mod:`.neighbors`) and the Flax PaiNN (:mod:`.painn`).

Bottom of the stack: imports nothing of painnjax but errors and units."""
