"""Training: the trainer and its loop (:mod:`.trainer`), learning-rate schedules and early
stopping (:mod:`.schedules`), evaluation and parity plots (:mod:`.evaluate`), committees
(:mod:`.committee`) and training from files and run configs (:mod:`.workflow`)."""
