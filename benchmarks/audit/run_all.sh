#!/usr/bin/env bash
# The whole reliability audit: issue 17's cases, then issue 32's, each in its own subfolder of the
# current folder (they write there), each printing one line per case:
#   cd "$(mktemp -d)" && bash REPO/benchmarks/audit/run_all.sh
HERE=$(cd "$(dirname "$0")" && pwd)
for audit in issue17 issue32; do
    mkdir -p "$audit" && (cd "$audit" && echo "== ${audit}_audit.sh in $PWD" && bash "$HERE/${audit}_audit.sh")
done
