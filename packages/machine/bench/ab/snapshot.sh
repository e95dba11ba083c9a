#!/usr/bin/env bash
# Copies the built packages of a checkout into DIR/node_modules/@memstack/NAME
# (package.json and dist/ of each), so that two builds can be loaded side by
# side by faults.ts. Build first (`pnpm build` in the checkout).
#
# Usage: bash packages/machine/bench/ab/snapshot.sh CHECKOUT DIR
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: snapshot.sh CHECKOUT DIR" >&2
  exit 2
fi
src=$1
dir=$2
if [[ ! -d "$src/packages" ]]; then
  echo "snapshot.sh: $src has no packages/ directory" >&2
  exit 2
fi
rm -rf "$dir"
mkdir -p "$dir/node_modules/@memstack"
for p in "$src"/packages/*; do
  [[ -d "$p/dist" ]] || continue
  n=$(basename "$p")
  mkdir -p "$dir/node_modules/@memstack/$n"
  cp "$p/package.json" "$dir/node_modules/@memstack/$n/"
  cp -r "$p/dist" "$dir/node_modules/@memstack/$n/"
done
for need in core buddy mmu kernel machine; do
  if [[ ! -f "$dir/node_modules/@memstack/$need/dist/index.js" ]]; then
    echo "snapshot.sh: $src/packages/$need has no dist/index.js: run pnpm build there first" >&2
    exit 1
  fi
done
echo "snapshot of $src in $dir"
