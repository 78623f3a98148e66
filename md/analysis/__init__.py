"""Analysis of minima and trajectories: harmonic frequencies (:mod:`.harmonic`), free energies
(:mod:`.thermo`) and a screen's minima ranked by them (:mod:`.ranking`), power spectra
(:mod:`.spectrum`), the vibrational study that chains minimum, Hessian, MD and spectrum
(:mod:`.study`), and evaporation statistics of MD runs (:mod:`.evaporation`)."""
