"""Molecular dynamics: the run settings (:mod:`.config`), jax-md integrators in the field's units
(:mod:`.integrators`), the jitted chunk loop (:mod:`.engine`; the potential as it sees it is
:mod:`md.forces`), velocities, safety stops, checkpoints, output, the memory check
(:mod:`.resources`), the spherical wall (:mod:`.wall`), replica exchange (:mod:`.exchange`), several clusters
padded to one size (:mod:`.systems`), and the driver :func:`.simulate.run_md`."""
