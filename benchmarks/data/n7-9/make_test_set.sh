#!/usr/bin/env bash
# The honest test set of issue 14: GFN1-xTB Langevin MD (tblite through ASE; the shared pool's
# settings: 1 fs, friction 0.02 fs^-1, 300 K) of the reference study's test compositions SA8AM10,
# SA9AM10, SA9AM11 and of SA10AM10, from their minima in ../shared/data/starts, 100 steps of
# equilibration, then a frame every 10 fs (30 per composition), each labelled again with
# `painnjax label` (the MD's own energies are not kept by `painnjax sample`). Never trained on.
#
#   bash benchmarks/data/n7-9/make_test_set.sh RUN_DIR [WORKERS]
#
# Each composition is one process (WORKERS at a time, default 2); a finished composition is
# skipped when run again. Output: RUN_DIR/test/<name>.labelled.extxyz; the committed copy is
# benchmarks/data/n7-9/test_gfn1_300K.extxyz.gz.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give a run folder outside git}
workers=${2:-2}
starts="$root/../shared/data/starts"
py="$root/.venv/bin/painnjax"
mkdir -p "$run/test"
export OMP_NUM_THREADS=1
one() {
  local name=$1
  local raw="$run/test/$name.extxyz" lab="$run/test/$name.labelled.extxyz"
  if [ ! -s "$raw" ]; then
    nice -n 10 "$py" sample --xtb GFN1-xTB "$starts/$name.xyz" --T 300 --dt 1 --friction 0.02 \
      --steps 400 --every 10 --equilibrate 100 --seed 14 --quiet --out "$raw"
  fi
  nice -n 10 "$py" label "$raw" "$lab" --quiet
}
export -f one
export run starts py
printf '%s\n' k24_8sa10am k24_9sa10am k24_9sa11am wu_10sa10am | xargs -P "$workers" -I{} bash -c 'one {}'
echo "test set done: $run/test/*.labelled.extxyz"
