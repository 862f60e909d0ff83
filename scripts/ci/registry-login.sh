#!/usr/bin/env bash
# Gets the stack's registry ready before `pulumi up`, when the runner's Docker
# needs it: to push the cluster images (push mode dockerConfig, the default), or
# to pull the base images and the build caches from it (baseFromRegistry: true in
# dcs:image or any dcs:images.<name>, in any push mode; scripts/ci/import-base.sh
# imports the bases next):
#
# 1. When the registry does not exist yet (a stack's first deployment), creates
#    it, and only it, first: renders the stack offline, takes the registry's URN
#    and every URN it depends on (its resource group and the component that is
#    their parent; scripts/ci/rendering.js), and runs
#      pulumi up --yes --stack STACK --policy-pack policy --target URN ...
#    `pulumi up --target` refuses a targeted resource whose dependency would be
#    created but is not targeted, hence the closure.
# 2. `az acr login` for the registry (AcrPush on it is enough; AcrPull is enough
#    when the stack only pulls its base from it).
#
# Push modes servicePrincipal and adminUser without baseFromRegistry need
# neither: the program hands Docker those credentials itself, and Pulumi
# creates the registry before the push in the same `pulumi up`. A stack
# without a registry (a platform stack) needs nothing.
#
# Needs an Azure CLI logged in as the pipeline identity, and a Pulumi CLI
# logged in to the state backend with the stack's secrets set
# (scripts/ci/stack-secrets.sh), with the environment the main `pulumi up`
# gets (cloud credentials, PULUMI_CONFIG_PASSPHRASE when the stack uses one).
#
# Usage: scripts/ci/registry-login.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/registry-login.sh STACK}"
log() { printf 'registry-login: %s\n' "$*"; }

registry="$(stack_value "$stack" dcs:registry name)"
if [[ -z "$registry" ]]; then
  log "stack $stack declares no registry; nothing to log in to"
  exit 0
fi
mode="$(stack_value "$stack" dcs:image push mode)"
mode="${mode:-dockerConfig}"
base_from_registry=false
if stack_builds_from_registry "$stack"; then base_from_registry=true; fi
if [[ "$mode" != dockerConfig && "$base_from_registry" != true ]]; then
  log "stack $stack pushes in mode $mode: pulumi up hands Docker those credentials itself; no login needed"
  exit 0
fi
why="the image push"
[[ "$base_from_registry" != true ]] || why="the base image import and the build"

if ! az acr show --name "$registry" --query id --output none 2>/dev/null; then
  log "registry $registry does not exist yet (first deployment): creating it before $why"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  render_stack "$stack" "$tmp/rendering.json" || exit 1
  node "$ci_root/scripts/ci/rendering.js" registry-targets "$tmp/rendering.json" >"$tmp/targets"
  targets=()
  while IFS= read -r urn; do targets+=(--target "$urn"); done <"$tmp/targets"
  log "targets: $(tr '\n' ' ' <"$tmp/targets")"
  (cd "$ci_root" && pulumi up --yes --stack "$stack" --policy-pack policy "${targets[@]}")
fi
az acr login --name "$registry"
