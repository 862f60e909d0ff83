#!/usr/bin/env bash
# Renders a stack offline at HEAD and at a base revision and prints the
# difference as Markdown on stdout (progress goes to stderr), so a pipeline can
# pipe it straight into a job summary. This is the pull-request check that needs
# no secret; the GitHub and the Azure DevOps pipelines both run it.
#
# Usage: scripts/ci/render-diff.sh STACK BASE_REF OUT_DIR
#   OUT_DIR receives base.json, head.json, head.md (the report) and diff.md.
# Exit status: that of the HEAD rendering (0 ok, 1 bad configuration,
# 3 mandatory guardrail violated); 2 on bad usage.
set -euo pipefail

usage='usage: scripts/ci/render-diff.sh STACK BASE_REF OUT_DIR'
if (($# != 3)); then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
base_ref="$2"
out="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf 'render-diff: %s\n' "$*" >&2; }

if [[ ! -f "$root/Pulumi.$stack.yaml" ]]; then
  log "no stack file Pulumi.$stack.yaml"
  exit 2
fi
if ! git -C "$root" rev-parse --verify --quiet "$base_ref^{commit}" >/dev/null; then
  log "base revision $base_ref is not in this clone (fetch it, or check out with full history)"
  exit 2
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out/base.json" "$out/head.json" "$out/diff.md"
tmp="$(mktemp -d)"
base_dir="$tmp/base"
trap 'git -C "$root" worktree remove --force "$base_dir" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

log "rendering $stack at $base_ref"
git -C "$root" worktree add --detach "$base_dir" "$base_ref" >/dev/null 2>&1
if [[ -f "$base_dir/stacks/render/cli.ts" && -f "$base_dir/Pulumi.$stack.yaml" ]]; then
  # Same lockfile: the installed packages are the ones the base needs too.
  if cmp -s "$root/package-lock.json" "$base_dir/package-lock.json" && [[ -d "$root/node_modules" ]]; then
    ln -s "$root/node_modules" "$base_dir/node_modules"
  else
    (cd "$base_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  base_status=0
  (cd "$base_dir" && npm start --silent -- --stack "$stack" --out "$out/base.json" --quiet) >/dev/null || base_status=$?
  if ((base_status != 0)); then
    log "the base rendering exited with $base_status"
  fi
fi
if [[ ! -s "$out/base.json" ]]; then
  echo '{"resources": [], "outputs": {}}' >"$out/base.json"
  log "no rendering of $stack at $base_ref: everything counts as added"
fi

log "rendering $stack at HEAD"
status=0
(cd "$root" && npm start --silent -- --stack "$stack" --out "$out/head.json" --diff "$out/base.json" --quiet) >"$out/diff.md" || status=$?
cat "$out/diff.md"
case "$status" in
  0) ;;
  3) printf '\n**The rendering of %s violates a mandatory guardrail** (exit 3): see the job log.\n' "\`$stack\`" ;;
  *) printf '\n**%s cannot be rendered** (exit %s): see the job log.\n' "\`$stack\`" "$status" ;;
esac
exit "$status"
