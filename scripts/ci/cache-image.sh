#!/usr/bin/env bash
# Points the registry's build-cache tag at the image `pulumi up` just pushed,
# so the next build, on any runner, takes its unchanged layers from it.
#
# Only for stacks with dcs:image.baseFromRegistry: true: the program then builds
# with `cacheFrom: <registry>.azurecr.io/<repository>:buildcache` and the
# BUILDKIT_INLINE_CACHE build argument, which writes the cache metadata into
# the pushed image itself (pulumi-docker's documented way to cache with a
# registry). The copy is made inside the registry by `az acr import --force`
# (the source image is the stack's own; nothing is pulled to the runner), and
# `buildcache` is not a content tag, so the scheduled purge never removes it.
#
# Usage: scripts/ci/cache-image.sh STACK     (after `pulumi up`)
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/cache-image.sh STACK}"
log() { printf 'cache-image: %s\n' "$*"; }

if [[ "$(stack_value "$stack" dcs:image baseFromRegistry)" != true ]]; then
  log "stack $stack does not build from its registry (dcs:image.baseFromRegistry is not true); no build cache to update"
  exit 0
fi
registry="$(stack_value "$stack" dcs:registry name)"
repository="$(stack_value "$stack" dcs:image repository)"
repository="${repository:-hydrology/dask}"
tag="$(cd "$ci_root" && pulumi stack output imageTag --stack "$stack")"
if [[ ! "$tag" =~ ^[0-9][0-9a-z.-]*$ ]]; then
  log "stack $stack exports no content tag (imageTag: '$tag'); nothing to cache" >&2
  exit 1
fi
host="$(printf '%s' "$registry" | tr '[:upper:]' '[:lower:]').azurecr.io"
log "buildcache <- $host/$repository:$tag"
az acr import --name "$registry" --source "$host/$repository:$tag" --image "$repository:buildcache" --force --output none
