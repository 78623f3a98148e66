"""Configurational screening: random candidates of a composition (:mod:`.candidates`), in all its
protonation states (:mod:`.protonation`), or grown from a smaller cluster's minima
(:mod:`.growth`); duplicate removal (:mod:`.dedup`); refinement of the lowest minima by
perturbation (:mod:`.refine`); batched minimisation with ranking (:mod:`.screen`), its settings
(:mod:`.config`) and the committee's spread (:mod:`.spread`); the resumable folder job of ``painnjax
screen`` (:mod:`.folder`) and its files and tables (:mod:`.report`)."""
