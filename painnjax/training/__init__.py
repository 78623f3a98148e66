"""Training: the trainer and its jitted steps (:mod:`.trainer`), the epoch loop (:mod:`.fit`),
checkpoints (:mod:`.checkpoint`), a run's metrics, plots and reports (:mod:`.outputs`),
learning-rate schedules and early stopping (:mod:`.schedules`), evaluation and parity plots
(:mod:`.evaluate`), committees (:mod:`.committee`) and training from files and run configs
(:mod:`.workflow`)."""
