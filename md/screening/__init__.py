"""Configurational screening: random candidates of a composition (:mod:`.candidates`), duplicate
removal (:mod:`.dedup`), and batched minimisation with ranking (:mod:`.screen`)."""
