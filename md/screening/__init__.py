"""Configurational screening: random candidates of a composition (:mod:`.candidates`), in all its
protonation states (:mod:`.protonation`), or grown from a smaller cluster's minima
(:mod:`.growth`); duplicate removal (:mod:`.dedup`); refinement of the lowest minima by
perturbation (:mod:`.refine`); and batched minimisation with ranking (:mod:`.screen`)."""
