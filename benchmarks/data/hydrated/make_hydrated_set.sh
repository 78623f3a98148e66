#!/usr/bin/env bash
# Hydrated SA–AM clusters for issue 28 (item 2): SA_nAM_mW_k, n, m <= 4, m = n-1..n+1, k <= 6.
# 1. Starts with painnjax's own growth moves: from the B97-3c minima of Wu et al. in
#    ../shared/data/starts (wu_{n}sa{n}am.xyz), one molecule at a time
#    (`painnjax screen MODEL --grow-from PARENT --add SA|AM|W --n 24 --keep 4 --refine-rounds 1`),
#    each step growing from the previous step's best.extxyz. MODEL must know water (saam-gfn1 does
#    not: its SA1AM1 + W minimum came out as an unnamed ion state, 2026-12-07); use the first SA–W
#    fine-tune (benchmarks/data/saw/finetune1.toml) or later.
# 2. GFN1-xTB MD on the true surface from the lowest minimum of each composition (`painnjax sample
#    --xtb GFN1-xTB`: Langevin, 1 fs, friction 0.02 fs^-1, 100 steps of equilibration, a frame every
#    10 fs to step 700 = 61 frames), at 300 K, and at 450 K for every other composition, then
#    `painnjax label` (GFN1-xTB). The model only places the molecules; every frame is xTB's.
# Test compositions (never trained on): SA3AM3W3 and SA2AM2W5, two 300 K trajectories each.
#
#   bash benchmarks/data/hydrated/make_hydrated_set.sh RUN_DIR MODEL [WORKERS] [grow|md|label ...]
# Resumable: a finished growth step or trajectory is not run again; labelling continues where it
# stopped. A second run on the same folder while one is writing is refused. RUN_DIR outside git.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give a run folder outside git}
model=${2:?give a model that knows water}
workers=${3:-1}
shift $(( $# >= 3 ? 3 : $# ))
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(grow md label)
starts="$root/../shared/data/starts"
pj="$root/.venv/bin/painnjax"
export OMP_NUM_THREADS=1
mkdir -p "$run/grow" "$run/traj"
exec 9> "$run/.make_hydrated_set.lock"
flock -n 9 || { echo "another make_hydrated_set.sh is writing $run" >&2; exit 2; }

# growth steps: NEW PARENT MOLECULE (a parent is a wu_ start or an earlier NEW); seed = line number
steps=(
  "SA1AM1W1 wu_1sa1am W" "SA1AM1W2 SA1AM1W1 W" "SA1AM1W3 SA1AM1W2 W" "SA1AM1W4 SA1AM1W3 W"
  "SA2AM2W1 wu_2sa2am W" "SA2AM2W2 SA2AM2W1 W" "SA2AM2W3 SA2AM2W2 W" "SA2AM2W4 SA2AM2W3 W"
  "SA2AM2W5 SA2AM2W4 W" "SA2AM2W6 SA2AM2W5 W"
  "SA3AM3W1 wu_3sa3am W" "SA3AM3W2 SA3AM3W1 W" "SA3AM3W3 SA3AM3W2 W" "SA3AM3W4 SA3AM3W3 W"
  "SA4AM4W1 wu_4sa4am W" "SA4AM4W2 SA4AM4W1 W" "SA4AM4W3 SA4AM4W2 W"
  "SA2AM1 wu_1sa1am SA" "SA2AM1W1 SA2AM1 W" "SA2AM1W2 SA2AM1W1 W" "SA2AM1W3 SA2AM1W2 W"
  "SA1AM2 wu_1sa1am AM" "SA1AM2W1 SA1AM2 W" "SA1AM2W2 SA1AM2W1 W"
  "SA2AM3 wu_2sa2am AM" "SA2AM3W1 SA2AM3 W" "SA2AM3W2 SA2AM3W1 W" "SA2AM3W4 SA2AM3W2 W"
  "SA3AM2 wu_2sa2am SA" "SA3AM2W1 SA3AM2 W" "SA3AM2W2 SA3AM2W1 W" "SA3AM2W4 SA3AM2W2 W"
  "SA3AM4 wu_3sa3am AM" "SA3AM4W2 SA3AM4 W" "SA4AM3 wu_3sa3am SA" "SA4AM3W2 SA4AM3 W"
)
# trajectories: COMPOSITION T SEED SET (compositions without W are growth steps only)
trajs=(
  "SA3AM3W3 300 501 test" "SA3AM3W3 300 502 test" "SA2AM2W5 300 503 test" "SA2AM2W5 300 504 test"
)
seed=600
for s in "${steps[@]}"; do
  read -r new parent mol <<< "$s"
  case "$new" in *W*) ;; *) continue ;; esac
  case "$new" in SA3AM3W3|SA2AM2W5) continue ;; esac
  seed=$((seed + 1)); trajs+=("$new 300 $seed train")
  if (( seed % 2 == 0 )); then seed=$((seed + 1)); trajs+=("$new 450 $seed train"); fi
done

grow() {
  local i=0
  for s in "${steps[@]}"; do
    i=$((i + 1))
    read -r new parent mol <<< "$s"
    [ -s "$run/grow/$new/best.extxyz" ] && continue
    local from="$run/grow/$parent/best.extxyz"
    [[ "$parent" == wu_* ]] && from="$starts/$parent.xyz"
    local resume=()
    [ -e "$run/grow/$new/screen.json" ] && resume=(--resume)
    nice -n 10 "$pj" screen "$model" --grow-from "$from" --add "$mol" --n 24 --keep 4 \
      --refine-rounds 1 --seed "$i" --out "$run/grow/$new" --quiet "${resume[@]}"
  done
}
one() {
  read -r comp T seed set <<< "$1"
  local out="$run/traj/${set}_${comp}_${T}K_s${seed}.extxyz" part="$run/traj/unfinished_${set}_${comp}_${T}K_s${seed}.extxyz"
  [ -s "$out" ] && return 0
  "$root/.venv/bin/python" -c "import sys; from ase.io import read, write; write(sys.argv[2], read(sys.argv[1], 0))" \
    "$run/grow/$comp/best.extxyz" "$run/traj/start_${comp}.xyz"
  nice -n 10 "$pj" sample --xtb GFN1-xTB "$run/traj/start_${comp}.xyz" --T "$T" --dt 1 --friction 0.02 \
    --steps 700 --every 10 --equilibrate 100 --seed "$seed" --quiet --out "$part"
  mv "$part" "$out"
}
export -f one
export run pj root
for stage in "${stages[@]}"; do
  case "$stage" in
    grow) grow ;;
    md) printf '%s\n' "${trajs[@]}" | xargs -P "$workers" -I{} bash -c 'one "{}"' ;;
    label)
      for set in test train; do
        files=()
        for t in "${trajs[@]}"; do
          read -r comp T seed tset <<< "$t"
          [ "$tset" = "$set" ] && files+=("$run/traj/${set}_${comp}_${T}K_s${seed}.extxyz")
        done
        nice -n 10 "$pj" label "${files[@]}" "$run/$set.extxyz" --workers "$workers" --quiet
        echo "hydrated $set labelled: $run/$set.extxyz"
      done ;;
    *) echo "unknown stage $stage (grow, md, label)" >&2; exit 2 ;;
  esac
done
