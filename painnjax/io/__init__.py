"""Files: atomic writes, JSON, locks and append-only logs (:mod:`.files`), model files
(:mod:`.modelfile`), a model read once for several steps (:mod:`.resolved`) and plots (:mod:`.plots`)."""
