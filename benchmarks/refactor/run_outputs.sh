#!/usr/bin/env bash
# Small runs of md, optimize, screen (with --rank-by G), thermo, evaporation and train into OUT, so that a
# refactor can be checked file by file: run it before (on a checkout of the old commit, its path first
# on PYTHONPATH) and after, then compare the two folders with compare_outputs.py.
#   PYTHONPATH=/path/to/old/checkout bash benchmarks/refactor/run_outputs.sh before
#   bash benchmarks/refactor/run_outputs.sh after
#   .venv/bin/python benchmarks/refactor/compare_outputs.py before after
# About 6 minutes on a 2-core CPU.
set -euo pipefail
OUT=${1:?usage: run_outputs.sh OUT}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PJ="$HERE/.venv/bin/python -m painnjax.cli"
mkdir -p "$OUT"
cd "$OUT"
export JAX_PLATFORMS=cpu
$PJ md saam-gfn1 SA1AM1 --T 300 --steps 200 --log-every 10 --traj-every 20 --out md-nh --quiet
$PJ md saam-gfn1 SA2AM2 --ensemble nvt-langevin --T 1200 1500 --replicas 2 --steps 300 --log-every 10 \
    --traj-every 50 --seed 3 --out md-hot --quiet
$PJ evaporation md-hot --out evap
$PJ optimize saam-gfn1 SA2AM2 --fmax 0.05 --steps 200 --out opt.extxyz
$PJ screen saam-gfn1 --composition SA1AM1 --n 6 --refine-rounds 1 --keep 3 --out scr --quiet
$PJ screen saam-gfn1 --composition SA1AM1 --n 4 --optimizer fire --refine-rounds 0 --keep 2 --rank-by G \
    --out scr-g --quiet
$PJ thermo saam-gfn1 scr/best.extxyz --json thermo.json --table dh_ds.txt
cat > train.toml <<'TOML'
[model]
n_atom_basis = 8
n_interactions = 1
n_rbf = 6
cutoff = 5.0

[train]
epochs = 2
batch_size = 4
lr = 1e-3
energy_weight = 0.01

[data]
monomers = "saam-gfn1-monomers"

[split]
valid_fraction = 0.1
seed = 42
test_largest = 1
TOML
$PJ train --data saam-gfn1-small --config train.toml --out train
