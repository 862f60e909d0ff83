#!/usr/bin/env bash
# Prints a stack's outputs as a Markdown table for the job summary (GitHub
# $GITHUB_STEP_SUMMARY, Azure DevOps ##vso[task.uploadsummary]). Secret outputs
# stay "[secret]": `pulumi stack output --json` is run without --show-secrets.
#
# Usage: scripts/ci/outputs-summary.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/outputs-summary.sh STACK}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! pulumi stack output --json --stack "$stack" >"$tmp/outputs" 2>"$tmp/error"; then
  printf 'outputs-summary: cannot read the outputs of stack %s: %s\n' "$stack" "$(tr '\n' ' ' <"$tmp/error")" >&2
  exit 1
fi
node "$ci_root/scripts/ci/change.js" outputs "$stack" <"$tmp/outputs"
