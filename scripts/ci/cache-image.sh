#!/usr/bin/env bash
# Points the build-cache tag of every image the stack builds from its registry
# at the image `pulumi up` just pushed, so the next build, on any runner, takes
# its unchanged layers from it.
#
# An image builds from its registry when its dcs:image (or dcs:images.<name>)
# sets baseFromRegistry: true: the program then builds it with
# `cacheFrom: <registry>.azurecr.io/<repository>:buildcache` and the
# BUILDKIT_INLINE_CACHE build argument, which writes the cache metadata into
# the pushed image itself (pulumi-docker's documented way to cache with a
# registry). Which images those are is read from the stack's offline rendering
# (scripts/ci/rendering.js images: an image whose cacheFrom is its
# repository's buildcache tag); the content tag `pulumi up` pushed from the
# stack's `images` output (`pulumi stack output images --json`: name ->
# { repository, tag, ... }). Each copy is made inside the registry by
# `az acr import --force` (the source image is the stack's own; nothing is
# pulled to the runner), and `buildcache` is not a content tag, so the
# scheduled purge of each repository never removes it.
#
# Usage: scripts/ci/cache-image.sh STACK     (after `pulumi up`)
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/cache-image.sh STACK}"
log() { printf 'cache-image: %s\n' "$*"; }

if ! stack_builds_from_registry "$stack"; then
  log "stack $stack builds no image from its registry (no dcs:image.baseFromRegistry or dcs:images.<name>.baseFromRegistry is true); no build cache to update"
  exit 0
fi
registry="$(stack_value "$stack" dcs:registry name)"
host="$(registry_host "$registry")"

status=0
stack_images "$stack" || status=$?
((status != 3)) || { log "stack $stack declares no image; no build cache to update"; exit 0; }
((status == 0)) || exit "$status"

cached=()
for i in "${!image_name[@]}"; do
  cache="$host/${image_repository[i]}:buildcache"
  if [[ " ${image_cache[i]} " == *" $cache "* ]]; then
    cached+=("$i")
  else
    log "image ${image_name[i]} does not build from the registry's cache (baseFromRegistry is not true); no build cache to update"
  fi
done
((${#cached[@]})) || exit 0

# Every tag is checked before the first copy.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$ci_root" && pulumi stack output images --json --stack "$stack") >"$tmp/images.json"
copies=()
for i in "${cached[@]}"; do
  name="${image_name[i]}"
  repository="${image_repository[i]}"
  pushed="$(node -e '
    const images = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const image = images !== null && typeof images === "object" ? images[process.argv[2]] : undefined;
    if (image === null || typeof image !== "object") process.exit(0);
    process.stdout.write(String(image.repository ?? "") + "\t" + String(image.tag ?? ""));
  ' "$tmp/images.json" "$name")" || { echo "cache-image: the images output of stack $stack is not JSON" >&2; exit 1; }
  tag="${pushed#*$'\t'}"
  if [[ "${pushed%%$'\t'*}" != "$repository" ]]; then
    log "stack $stack exports no image $name in repository $repository (images output: '${pushed%%$'\t'*}'); nothing to cache" >&2
    exit 1
  fi
  if [[ ! "$tag" =~ ^[0-9][0-9a-z.-]*$ ]]; then
    log "stack $stack exports no content tag for image $name (images.$name.tag: '$tag'); nothing to cache" >&2
    exit 1
  fi
  copies+=("$name" "$repository" "$tag")
done
for ((k = 0; k < ${#copies[@]}; k += 3)); do
  repository="${copies[k + 1]}"
  log "image ${copies[k]}: $repository:buildcache <- $host/$repository:${copies[k + 2]}"
  az acr import --name "$registry" --source "$host/$repository:${copies[k + 2]}" --image "$repository:buildcache" --force --output none
done
