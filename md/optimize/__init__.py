"""Minimisation: FIRE to an ASE-like ``fmax`` for one structure (:mod:`.fire`); many at once with FIRE or
L-BFGS (:mod:`.batch`, :mod:`.lbfgs`), which hand over their compiled minimiser and each chunk's
results in the types of :mod:`.minimiser`."""
