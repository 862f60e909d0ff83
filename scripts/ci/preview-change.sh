#!/usr/bin/env bash
# shellcheck disable=SC2016 # Markdown backticks in single-quoted printf formats are meant literally.
# The change a deployment makes, shown before and checked at the moment it
# deploys; and drift. Each mode runs one `pulumi preview --refresh --json` with
# the policy pack and prints Markdown for the job summary on stdout (progress
# and errors on stderr); scripts/ci/change.js reads the JSON.
#
#   record STACK FILE   before the approval (the prod preview the approver
#                       reads): prints the change, and writes FILE with the
#                       commit and the change's fingerprint (every operation,
#                       resource, changed property and new input; see change.js).
#   check STACK FILE    in the deployment job, after the approval, right before
#                       `pulumi up --refresh`: previews again and refuses (exit 1)
#                       unless the commit and the fingerprint are the ones of
#                       FILE. So what deploys is what was approved: a stack that
#                       moved since (another deployment, a change in the cloud
#                       that alters the plan) or another commit stops the
#                       deployment. (Pulumi's own update plans, `preview
#                       --save-plan` and `up --plan`, are still marked preview
#                       and experimental in the CLI: the `--plan` flag of `up`
#                       is hidden unless PULUMI_EXPERIMENTAL is set.)
#   drift STACK         the scheduled check: `pulumi preview --refresh
#                       --expect-no-changes`; prints what differs between the
#                       cloud and the stack (a cluster edited in the UI,
#                       container services switched off) and fails when
#                       anything does.
#
# Needs a logged-in Pulumi CLI with read access to the state, the stack's
# secrets (scripts/ci/stack-secrets.sh --preview), and cloud credentials that
# can read every resource of the stack (the refresh).
#
# Exit status: 0 as expected; 1 a refused change, drift, or a failed preview;
# 2 bad usage.
#
# Usage: scripts/ci/preview-change.sh record|check STACK FILE
#        scripts/ci/preview-change.sh drift STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/preview-change.sh record|check STACK FILE | drift STACK'
mode="${1:-}"
case "$mode" in
  record | check) (($# == 3)) || { echo "$usage" >&2; exit 2; } ;;
  drift) (($# == 2)) || { echo "$usage" >&2; exit 2; } ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
stack="$2"
file="${3:-}"
change_js="$ci_root/scripts/ci/change.js"
log() { printf 'preview-change: %s\n' "$*" >&2; }
[[ -f "$ci_root/Pulumi.$stack.yaml" ]] || { echo "preview-change: no stack file Pulumi.$stack.yaml" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
commit="$(git -C "$ci_root" rev-parse HEAD)"

preview=(pulumi preview --stack "$stack" --refresh --json --policy-pack policy)
[[ "$mode" != drift ]] || preview=(pulumi preview --stack "$stack" --refresh --expect-no-changes --json --policy-pack policy)
log "${preview[*]} (commit $commit)"
status=0
(cd "$ci_root" && "${preview[@]}") >"$tmp/preview.json" 2>"$tmp/error" || status=$?
if ! node "$change_js" changes <"$tmp/preview.json" >"$tmp/changes" 2>/dev/null; then
  printf '### `%s`: the preview failed (exit %s)\n\n```text\n%s\n```\n' "$stack" "$status" "$(tail -n 20 "$tmp/error")"
  log "pulumi preview failed (exit $status)"
  exit 1
fi
changes="$(cat "$tmp/changes")"

case "$mode" in
  drift)
    node "$change_js" summary "Drift check of stack \`$stack\` (commit ${commit:0:12})" <"$tmp/preview.json"
    if ((changes > 0)); then
      printf '\n**Drift:** the cloud no longer matches stack `%s` (%s resources differ); run the deployment again, or bring the change into the code.\n' "$stack" "$changes"
      log "stack $stack has drifted: $changes resources differ"
      exit 1
    fi
    if ((status != 0)); then
      printf '\n**The check failed** (exit %s):\n\n```text\n%s\n```\n' "$status" "$(tail -n 20 "$tmp/error")"
      exit 1
    fi
    log "stack $stack matches the cloud"
    ;;
  record)
    if ((status != 0)); then
      node "$change_js" summary "Preview of stack \`$stack\` (commit ${commit:0:12}) failed" <"$tmp/preview.json"
      printf '\n```text\n%s\n```\n' "$(tail -n 20 "$tmp/error")"
      exit 1
    fi
    fingerprint="$(node "$change_js" fingerprint <"$tmp/preview.json")"
    node "$change_js" summary "What the approval of stack \`$stack\` deploys (commit ${commit:0:12})" <"$tmp/preview.json"
    printf '\nChange fingerprint `%s`: the deployment re-checks it right before `pulumi up` and refuses any other change.\n' "$fingerprint"
    mkdir -p "$(dirname "$file")"
    printf '{"stack":"%s","commit":"%s","fingerprint":"%s","changes":%s}\n' "$stack" "$commit" "$fingerprint" "$changes" >"$file"
    log "recorded $changes changes of stack $stack at $commit: $fingerprint"
    ;;
  check)
    if [[ ! -f "$file" ]]; then
      echo "preview-change: no approved change $file (the prod preview of this run records it)" >&2
      exit 2
    fi
    read -r approved_stack approved_commit approved_fingerprint < <(node -e '
      const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      process.stdout.write(`${a.stack} ${a.commit} ${a.fingerprint}\n`);
    ' "$file")
    if ((status != 0)); then
      printf '### `%s`: the preview before the deployment failed (exit %s)\n\n```text\n%s\n```\n' "$stack" "$status" "$(tail -n 20 "$tmp/error")"
      exit 1
    fi
    fingerprint="$(node "$change_js" fingerprint <"$tmp/preview.json")"
    refusal=""
    if [[ "$approved_stack" != "$stack" ]]; then
      refusal="the approved change is of stack $approved_stack"
    elif [[ "$approved_commit" != "$commit" ]]; then
      refusal="the approved preview was of commit $approved_commit, this job is at $commit"
    elif [[ "$approved_fingerprint" != "$fingerprint" ]]; then
      refusal="the change differs from the approved preview (fingerprint $fingerprint, approved $approved_fingerprint): the stack or the cloud moved since"
    fi
    if [[ -n "$refusal" ]]; then
      node "$change_js" summary "Stack \`$stack\` now: NOT the approved change" <"$tmp/preview.json"
      printf '\n**Refused:** %s. Nothing was deployed; run the workflow again to preview and approve the change as it is now.\n' "$refusal"
      log "refused: $refusal"
      exit 1
    fi
    printf 'The change to deploy on stack `%s` is the approved one (commit %s, fingerprint `%s`).\n' "$stack" "${commit:0:12}" "$fingerprint"
    log "stack $stack: the change matches the approved preview"
    ;;
esac
