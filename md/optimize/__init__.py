"""Minimisation: FIRE to an ASE-like ``fmax``, one structure or a batch (:mod:`.fire`)."""
