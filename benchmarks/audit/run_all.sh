#!/usr/bin/env bash
# The whole reliability audit: issue 17's cases, then issue 32's (the old routes, then the new
# routes of item 2), each in its own subfolder of the current folder (they write there), each
# printing one line per case:
#   cd "$(mktemp -d)" && bash REPO/benchmarks/audit/run_all.sh
HERE=$(cd "$(dirname "$0")" && pwd)
for audit in issue17_audit issue32_audit issue32_new_routes; do
    mkdir -p "$audit" && (cd "$audit" && echo "== $audit.sh in $PWD" && bash "$HERE/$audit.sh")
done
