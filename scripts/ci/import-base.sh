#!/usr/bin/env bash
# Imports the base of every image the stack builds from its own registry, from
# Docker Hub into that registry once, so that builds on ephemeral runners pull
# it from there and Docker Hub's limits on anonymous pulls never fail a
# deployment. An image builds from the registry when its dcs:image (or
# dcs:images.<name>) sets baseFromRegistry: true: the program then builds FROM
# <registry>.azurecr.io/<base> (build argument BASE_IMAGE) with the registry's
# <repository>:buildcache tag as its cache. <base> is
# databricksruntime/standard:<runtime>[@<baseDigest>] for a CPU image and
# nvidia/cuda:<cuda>-runtime-ubuntu<ubuntu>[@<baseDigest>] for a GPU image.
#
# The base of each image is read from its BASE_IMAGE in the stack's offline
# rendering (scripts/ci/rendering.js images): the registry host is stripped,
# what remains is the repository, the tag and the pinned digest, if any; an
# image whose BASE_IMAGE is not in the stack's registry imports nothing. Two
# images on the same base import it once. The source is Docker Hub
# (docker.io/<repository>; docker.io/library/<name> for an official image).
#
# `az acr import` copies the manifests as they are, so tag and digest are kept:
#   - no digest pinned: imports docker.io/<repository>:<tag> unless the registry
#     has that tag already (a base that moves is picked up by pinning a digest,
#     not by re-importing the tag);
#   - a digest pinned (baseDigest): nothing to do when the registry's tag
#     already has that digest; otherwise imports docker.io/<repository>@<digest>
#     under the tag, with --force when the tag exists with another digest, and
#     checks the digest the registry reports afterwards. (Importing by digest,
#     not by tag: the tag on Docker Hub may have moved since the digest was
#     pinned, and FROM ...@<digest> needs exactly that manifest.)
#
# Run it after scripts/ci/registry-login.sh, which creates the registry on a
# stack's first deployment. Needs npm ci (for the rendering; a job that has
# one passes it in DCS_RENDERING) and an Azure CLI logged in as an identity
# that may import into the registry (Contributor on it, or a role with
# Microsoft.ContainerRegistry/registries/importImage/action).
#
# Usage: scripts/ci/import-base.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/import-base.sh STACK}"
log() { printf 'import-base: %s\n' "$*"; }

if ! stack_builds_from_registry "$stack"; then
  log "stack $stack builds every image on its base from Docker Hub (no dcs:image.baseFromRegistry or dcs:images.<name>.baseFromRegistry is true); nothing to import"
  exit 0
fi
registry="$(stack_value "$stack" dcs:registry name)"
if [[ -z "$registry" ]]; then
  echo "import-base: stack $stack builds an image from its registry (baseFromRegistry) but declares no registry (dcs:registry.name)" >&2
  exit 1
fi
host="$(registry_host "$registry")"

status=0
stack_images "$stack" || status=$?
((status != 3)) || { log "stack $stack declares no image; nothing to import"; exit 0; }
((status == 0)) || exit "$status"

# import NAME IMAGE DIGEST: makes the registry hold IMAGE (<repository>:<tag>),
# at DIGEST when one is pinned, for image NAME.
import() {
  local name="$1" image="$2" digest="$3" repository current after source_ref
  local -a force=()
  repository="${image%:*}"
  [[ "$repository" == */* ]] || repository="library/$repository"
  current="$(az acr repository show --name "$registry" --image "$image" --query digest --output tsv 2>/dev/null || true)"
  if [[ -z "$digest" ]]; then
    if [[ -n "$current" ]]; then
      log "image $name: $registry already holds $image ($current); nothing to import"
      return 0
    fi
    source_ref="docker.io/$repository:${image##*:}"
  else
    if [[ "$current" == "$digest" ]]; then
      log "image $name: $registry already holds $image at the pinned $digest; nothing to import"
      return 0
    fi
    source_ref="docker.io/$repository@$digest"
    if [[ -n "$current" ]]; then
      force=(--force)
      log "image $name: $registry holds $image at $current, not the pinned $digest: importing it again"
    fi
  fi
  log "image $name: importing $source_ref into $registry as $image"
  az acr import --name "$registry" --source "$source_ref" --image "$image" "${force[@]}"
  if [[ -n "$digest" ]]; then
    after="$(az acr repository show --name "$registry" --image "$image" --query digest --output tsv)"
    if [[ "$after" != "$digest" ]]; then
      echo "import-base: $registry reports $image at ${after:-no digest} after the import, not the pinned $digest" >&2
      return 1
    fi
  fi
  log "image $name: $registry holds $image${digest:+ at $digest}"
}

declare -A imported=()
for i in "${!image_name[@]}"; do
  name="${image_name[i]}"
  base="$(image_arg "$i" BASE_IMAGE)"
  if [[ "$base" != "$host/"* ]]; then
    [[ -n "$base" ]] || base="the default base of its Dockerfile"
    log "image $name builds on $base, not from registry $registry; nothing to import"
    continue
  fi
  rest="${base#"$host/"}"
  digest=""
  if [[ "$rest" == *@* ]]; then
    digest="${rest#*@}"
    rest="${rest%%@*}"
  fi
  if [[ ! "$rest" =~ ^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$ || "${rest%%/*}" == *.* && "$rest" == */* ]]; then
    echo "import-base: image $name builds on $base, which is not <registry>/<Docker Hub repository>:<tag>[@<digest>]; cannot import it" >&2
    exit 1
  fi
  if [[ -n "$digest" && ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "import-base: image $name pins its base $rest to $digest, which is not sha256:<64 hex digits>" >&2
    exit 1
  fi
  if [[ -n "${imported[$rest]+set}" ]]; then
    if [[ "${imported[$rest]}" != "$digest" ]]; then
      echo "import-base: two images build on $rest at different digests (${imported[$rest]:-none pinned} and ${digest:-none pinned}); the registry's tag can hold only one: pin the same baseDigest" >&2
      exit 1
    fi
    log "image $name builds on $rest${digest:+@$digest} too; already done"
    continue
  fi
  imported[$rest]="$digest"
  import "$name" "$rest" "$digest"
done
