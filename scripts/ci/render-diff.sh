#!/usr/bin/env bash
# Renders a stack offline at HEAD and at a base revision, and writes the
# difference as Markdown: the pull-request check that needs no secret.
# Used by the GitHub and the Azure DevOps pipelines alike.
# Usage: scripts/ci/render-diff.sh STACK BASE_REF OUT_DIR
set -euo pipefail

stack="${1:?usage: scripts/ci/render-diff.sh STACK BASE_REF OUT_DIR}"
base_ref="${2:?base revision (branch, tag or commit) missing}"
out="${3:?output folder missing}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
base_dir="$(mktemp -d)/base"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

trap 'git -C "$root" worktree remove --force "$base_dir" >/dev/null 2>&1 || true' EXIT

echo "rendering $stack at $base_ref"
git -C "$root" worktree add --detach "$base_dir" "$base_ref" >/dev/null
if [[ -f "$base_dir/stacks/render/cli.ts" && -f "$base_dir/Pulumi.$stack.yaml" ]]; then
  (cd "$base_dir" && npm ci --no-audit --no-fund >/dev/null && npm start --silent -- --stack "$stack" --out "$out/base.json" --quiet) || true
fi
if [[ ! -s "$out/base.json" ]]; then
  echo '{"resources": [], "outputs": {}}' >"$out/base.json"
  echo "no rendering of $stack at $base_ref: everything counts as added"
fi

echo "rendering $stack at HEAD"
status=0
(cd "$root" && npm start --silent -- --stack "$stack" --out "$out/head.json" --diff "$out/base.json" --quiet) >"$out/diff.md" || status=$?
cat "$out/diff.md"
exit "$status"
