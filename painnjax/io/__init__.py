"""Files: atomic writes, JSON, locks and append-only logs (:mod:`.files`), model files
(:mod:`.modelfile`) and plots (:mod:`.plots`)."""
