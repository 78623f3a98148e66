"""Other codes on the same potential: the ASE calculator (:mod:`.calculator`), SchNetPack in
both directions (:mod:`.schnetpack`) and the energy/forces check (:mod:`.check`)."""
