"""What MD and the minimisers both stand on: the potential as a driver sees it, with the pair list
it manages (:mod:`.potential`: :class:`~md.forces.potential.MDPotential`, ``OVERFLOW_GROWTH``), the
cache of compiled functions shared by every driver of one energy function (:mod:`.cache`), and the
update of the running rows of a batch of replicas or slots (:mod:`.active`), and the painnjax
potential of a read structure with the precision of a run (:mod:`.build`)."""
