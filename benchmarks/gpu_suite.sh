#!/usr/bin/env bash
# The GPU benchmark suite in one command (benchmarks/gpu_suite.py; see benchmarks/README.md):
#
#   bash benchmarks/gpu_suite.sh [--cpu-smoke] [--out DIR] [--budget-s S] [--parts ...]
#
# Run from anywhere; every argument goes to gpu_suite.py, which runs in the repository root
# (a relative --out is taken from there). The whole suite must finish in under
# 8 minutes on one H100/H200 (the default --budget-s 420 covers the parts; imports, the wheels and
# start-up take the rest). On a CPU, --cpu-smoke runs every part on tiny sizes.
#
# The GPU image has jax (CUDA), flax, optax, torch and pytest, but not jax-md, e3nn-jax or ase.
# Prepare their wheels on a machine with network access, into .whl/ in the repository root, and
# carry .whl to the GPU machine with the working tree (3.8 MB, all pure Python):
#
#   python3 -m pip download --no-deps --dest .whl --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 \
#       jax-md==0.2.29 e3nn-jax==0.21.0 ase==3.29.0 jraph ml-collections attrs
#
# jraph, ml-collections and attrs: the other modules the suite imports through those three
# (sympy, scipy, absl-py, msgpack and pyyaml come with torch, jax, optax and flax; jax-md's
# pymatgen and ase's matplotlib are not imported); add any other the image turns out to lack.
# --no-deps keeps the image's CUDA jax.
# The wheels are installed with --no-deps into /tmp/site, first on PYTHONPATH; painnjax is not
# installed: the repository root is on PYTHONPATH. PYTHON=... picks another interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

if [ -d .whl ] && compgen -G ".whl/*.whl" > /dev/null; then
    echo "installing $(ls .whl/*.whl | wc -l) wheels from .whl into /tmp/site"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
export PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export GPU_SUITE_LAUNCHER="bash benchmarks/gpu_suite.sh"

if command -v nvidia-smi > /dev/null 2>&1; then
    nvidia-smi -L || true
fi

status=0
"$PYTHON" benchmarks/gpu_suite.py "$@" || status=$?
exit "$status"
