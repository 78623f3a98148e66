#!/usr/bin/env bash
# The large end of SA–AM for issue 28: GFN1-xTB MD frames of SA11AM11–SA15AM15 (121–165 atoms),
# so that the model sees the study's whole size range (it went to SA15AM15; saam-gfn1 saw
# nothing beyond SA12AM12 and carries a +2.2 kcal/mol offset at SA10AM10).
# Same protocol as the SA–W and SA–AM xTB rounds (`painnjax sample --xtb GFN1-xTB`: Langevin,
# 1 fs, friction 0.02 fs^-1, 100 steps of equilibration, a frame every 10 fs to step 700 = 61
# frames per trajectory), from the B97-3c minima of Wu et al. in ../shared/data/starts
# (wu_{n}sa{n}am.xyz), each frame labelled with `painnjax label`.
#   train: SA11AM11 and SA12AM12 at 300 K and 450 K, SA13AM13 at 300 K  -> RUN/train.extxyz
#   test (never trained on): SA14AM14 and SA15AM15 at 300 K              -> RUN/test.extxyz
#
#   bash benchmarks/data/large/make_large_set.sh RUN_DIR [WORKERS] [train|test ...]
# Resumable: a finished trajectory is not run again (one cut short runs again from its start;
# with the same seed it gives the same frames); labelling continues where it stopped. A second
# run on the same folder while one is writing is refused. RUN_DIR stays outside git.
# Cost: a GFN1-xTB force call takes ~1-2 s at 121 atoms and ~3-7 s at 165 atoms on one core of
# this project's CPU, so one trajectory is 0.3-1.4 h: run it in stages over several sessions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give a run folder outside git}
workers=${2:-1}
shift $(( $# >= 2 ? 2 : $# ))
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(test train)
starts="$root/../shared/data/starts"
pj="$root/.venv/bin/painnjax"
export OMP_NUM_THREADS=1
mkdir -p "$run/traj"
exec 9> "$run/.make_large_set.lock"
flock -n 9 || { echo "another make_large_set.sh is writing $run" >&2; exit 2; }
# set: start structure, temperature (K), seed
declare -A specs
specs[test]="wu_15sa15am 300 301|wu_14sa14am 300 302"
specs[train]="wu_11sa11am 300 311|wu_12sa12am 300 312|wu_11sa11am 450 313|wu_12sa12am 450 314|wu_13sa13am 300 315"
one() {
  read -r name T seed <<< "$1"
  local out="$run/traj/${name}_${T}K_s${seed}.extxyz" part="$run/traj/unfinished_${name}_${T}K_s${seed}.extxyz"
  [ -s "$out" ] && return 0
  nice -n 10 "$pj" sample --xtb GFN1-xTB "$starts/$name.xyz" --T "$T" --dt 1 --friction 0.02 \
    --steps 700 --every 10 --equilibrate 100 --seed "$seed" --quiet --out "$part"
  mv "$part" "$out"
}
export -f one
export run starts pj
for set in "${sets[@]}"; do
  [ -n "${specs[$set]:-}" ] || { echo "unknown set $set (train or test)" >&2; exit 2; }
  IFS='|' read -r -a list <<< "${specs[$set]}"
  printf '%s\n' "${list[@]}" | xargs -P "$workers" -I{} bash -c 'one "{}"'
  files=()
  for spec in "${list[@]}"; do
    read -r name T seed <<< "$spec"
    files+=("$run/traj/${name}_${T}K_s${seed}.extxyz")
  done
  nice -n 10 "$pj" label "${files[@]}" "$run/$set.extxyz" --workers "$workers" --quiet
  echo "set $set labelled: $run/$set.extxyz"
done
