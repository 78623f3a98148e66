"""Applications that make data: xTB labelling (:mod:`.label`), the xTB + NN calculator
(:mod:`.delta`), sampling frames by MD (:mod:`.sample`) and active learning (:mod:`.learn`).

They sit on top of training and md; nothing below imports them."""
