#!/usr/bin/env bash
# Issue 32 audit (second round, defects D1-D11): each case, its exit code, the first error line and
# the check that matters (no output folder, files unchanged, elapsed seconds, identical outputs).
# Run it from an empty folder (it writes there):
#   cd "$(mktemp -d)" && bash REPO/benchmarks/audit/issue32_audit.sh
# Every peer is a small python server on the loopback interface, killed at the end.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=$ROOT/.venv/bin/painnjax
PY=$ROOT/.venv/bin/python
export OMP_NUM_THREADS=1
row() { echo "CASE $1 | rc=$2 | $(echo "$3" | grep -m1 -iE 'error|refus|another|traceback' | cut -c1-220)"; }
absent() { [ -e "$1" ] && echo "  $1 exists" || echo "  $1 absent"; }
frames() { grep -c candidate_index "$1" 2>/dev/null || echo 0; }
SERVERS=()
trap 'for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done' EXIT
# a loopback server: port written to $2; mode silent (accept, never answer) or hex bytes to answer
serve() {
    $PY - "$1" "$2" <<'PY' &
import socket, sys, time
mode, portfile = sys.argv[1], sys.argv[2]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(portfile, "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)
    if mode != "silent":
        c.sendall(bytes.fromhex(mode))
PY
    SERVERS+=($!)
    while [ ! -s "$2" ]; do sleep 0.1; done
}
T0=$(date +%s)
# a screen to resume in D2, D6, D8 (4 SA1AM1 candidates)
$P screen saam-gfn1 --composition SA1AM1 --n 4 --refine-rounds 0 --out s0 --quiet >/dev/null 2>&1
echo "setup: s0 screen rc=$? ($(frames s0/minimised.extxyz) frames in minimised.extxyz)"
$PY -c "
import painnjax
m = painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1,7,8,16])
painnjax.save_model(m, 'other.painn')"

# D1 a missing committee model
s=$(date +%s); out=$($P screen saam-gfn1 --composition SA1AM1 --n 2 --refine-rounds 0 --committee missing.painn --out d1 2>&1); rc=$?
row "D1 --committee missing.painn ($(( $(date +%s) - s )) s)" $rc "$out"; absent d1

# D2 screen.json deleted, resumed with another model
cp -r s0 s1; rm s1/screen.json; before=$(sha256sum < s1/minimised.extxyz)
out=$($P screen other.painn --composition SA1AM1 --n 4 --refine-rounds 0 --out s1 --resume 2>&1); rc=$?
row "D2 resume without screen.json, another model" $rc "$out"
[ "$before" = "$(sha256sum < s1/minimised.extxyz)" ] && echo "  s1/minimised.extxyz unchanged" || echo "  s1/minimised.extxyz CHANGED"
out=$($P screen saam-gfn1 --composition SA1AM1 --n 4 --refine-rounds 0 --out s1 --resume --quiet 2>&1); rc=$?
echo "  the same model resumes it: rc=$rc resumed_from=$($PY -c "import json; print(json.load(open('s1/screen.json'))['resumed_from'])")"

# D3 a huge --n
s=$(date +%s); out=$(timeout 60 $P screen saam-gfn1 --composition SA1AM1 --n 100000000 --out d3 2>&1); rc=$?
row "D3 --n 100000000 ($(( $(date +%s) - s )) s)" $rc "$out"; absent d3

# D4 --distributed, a coordinator that accepts and never answers
serve silent port4
s=$(date +%s)
out=$(PAINNJAX_COORDINATOR=127.0.0.1:$(cat port4) PAINNJAX_NUM_PROCESSES=2 PAINNJAX_PROCESS_ID=1 PAINNJAX_DISTRIBUTED_TIMEOUT=5 \
    timeout 400 $P md saam-gfn1 SA1AM1 --steps 20 --out d4 --distributed 2>&1); rc=$?
row "D4 silent coordinator 127.0.0.1:$(cat port4), timeout 5 s ($(( $(date +%s) - s )) s)" $rc "$out"; absent d4

# D5 negative --energy-window and --tolerance
out=$($P screen saam-gfn1 --composition SA1AM1 --n 2 --refine-rounds 0 --energy-window -1 --tolerance -1 --out d5 2>&1); rc=$?
row "D5 --energy-window -1 --tolerance -1" $rc "$out"; absent d5
out=$($P screen saam-gfn1 --composition SA1AM1 --n 2 --refine-rounds 0 --tolerance nan --out d5 2>&1); rc=$?
row "D5 --tolerance nan" $rc "$out"; absent d5

# D6 a damaged screen.json
cp -r s0 s6; echo '{garbage' > s6/screen.json; before=$(sha256sum < s6/minimised.extxyz)
out=$($P screen saam-gfn1 --composition SA1AM1 --n 4 --refine-rounds 0 --out s6 --resume 2>&1); rc=$?
row "D6 resume, screen.json '{garbage'" $rc "$out"; echo "$out" | grep -q Traceback && echo "  TRACEBACK" || echo "  no traceback"
[ "$before" = "$(sha256sum < s6/minimised.extxyz)" ] && echo "  s6/minimised.extxyz unchanged" || echo "  s6/minimised.extxyz CHANGED"

# D7 evaporation of a summary.json whose replica id is not a number
$P md saam-gfn1 SA1AM1 --steps 20 --log-every 10 --out m7 --quiet >/dev/null 2>&1
$PY -c "
import json; s = json.load(open('m7/summary.json')); s['replica_status'][0]['replica'] = 'abc'
json.dump(s, open('m7/summary.json', 'w'))"
out=$($P evaporation m7 --out e7 2>&1); rc=$?
row "D7 evaporation, replica 'abc'" $rc "$out"
echo "$out" | grep -q Traceback && echo "  TRACEBACK" || echo "  no traceback"; [ -e e7/evaporation.json ] && echo "  e7/evaporation.json written" || echo "  no evaporation.json"

# D8 candidate_index out of range
cp -r s0 s8; sed -i '0,/candidate_index=0\b/s//candidate_index=999/' s8/minimised.extxyz; before=$(sha256sum < s8/minimised.extxyz)
out=$($P screen saam-gfn1 --composition SA1AM1 --n 4 --refine-rounds 0 --out s8 --resume 2>&1); rc=$?
row "D8 resume, first candidate_index=0 -> 999" $rc "$out"
[ "$before" = "$(sha256sum < s8/minimised.extxyz)" ] && echo "  s8/minimised.extxyz unchanged" || echo "  s8/minimised.extxyz CHANGED"

# D9 --rank-by G of one atom
printf '1\n\nO 0.0 0.0 0.0\n' > atom.xyz
s=$(date +%s); out=$($P screen saam-gfn1 --candidates atom.xyz --refine-rounds 0 --rank-by G --out d9 2>&1); rc=$?
row "D9 --candidates atom.xyz --rank-by G ($(( $(date +%s) - s )) s)" $rc "$out"; absent d9

# D10 a screen killed during its candidates, resumed, against an uninterrupted one
A=(saam-gfn1 --composition SA1AM1 --n 24 --refine-rounds 1 --quiet)
$P screen "${A[@]}" --out full >/dev/null 2>&1; echo "setup: uninterrupted screen rc=$? ($(frames full/minimised.extxyz) structures)"
$P screen "${A[@]}" --out k10 >/dev/null 2>&1 & pid=$!
while kill -0 $pid 2>/dev/null && [ "$(frames k10/minimised.extxyz)" -lt 8 ]; do sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null; echo "  killed (kill -9) with $(frames k10/minimised.extxyz) of 24 candidates minimised"
out=$($P screen "${A[@]}" --out k10 --resume 2>&1); rc=$?
row "D10 resume after kill -9" $rc "$out"
echo "  resumed_from=$($PY -c "import json; print(json.load(open('k10/screen.json'))['resumed_from'])")"
for f in summary.csv best.extxyz unconverged.extxyz minimised.extxyz; do
    cmp -s full/$f k10/$f && echo "  $f identical" || echo "  $f DIFFERS"
done

# D11 label --scheduler at a peer that is not a Dask scheduler
$PY -c "from painnjax.data import bundled_structure; bundled_structure('SA1AM1').write('in.extxyz')"
serve ffffffffffffffff port11
s=$(date +%s); out=$($P label in.extxyz l11.extxyz --scheduler tcp://127.0.0.1:$(cat port11) 2>&1); rc=$?
row "D11 --scheduler, peer answers 8 x ff ($(( $(date +%s) - s )) s)" $rc "$out"
serve 0000000000000030 port11b  # announces a first message of 3 EiB
s=$(date +%s); out=$($P label in.extxyz l11.extxyz --scheduler tcp://127.0.0.1:$(cat port11b) 2>&1); rc=$?
row "D11 --scheduler, peer announces 3 EiB ($(( $(date +%s) - s )) s)" $rc "$out"; absent l11.extxyz
echo "total $(( $(date +%s) - T0 )) s"
