"""Analysis of minima and trajectories: harmonic frequencies (:mod:`.harmonic`), power spectra
(:mod:`.spectrum`) and the vibrational study that chains minimum, Hessian, MD and spectrum
(:mod:`.study`)."""
