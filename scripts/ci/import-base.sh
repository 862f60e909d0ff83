#!/usr/bin/env bash
# Imports the cluster image's base, databricksruntime/standard:<runtime>, from
# Docker Hub into the stack's own registry once, so that builds on ephemeral
# runners pull it from there and Docker Hub's limits on anonymous pulls never
# fail a deployment. Only for stacks with dcs:image.baseFromRegistry: true:
# the program then builds FROM <registry>.azurecr.io/databricksruntime/standard:<runtime>[@<baseDigest>]
# (build argument BASE_IMAGE) with the registry's buildcache tag as its cache.
#
# `az acr import` copies the manifests as they are, so tag and digest are kept:
#   - no dcs:image.baseDigest: imports docker.io/databricksruntime/standard:<runtime>
#     unless the registry has that tag already (a base that Databricks moves is
#     picked up by pinning a digest, not by re-importing the tag);
#   - dcs:image.baseDigest pinned: nothing to do when the registry's tag already
#     has that digest; otherwise imports docker.io/databricksruntime/standard@<digest>
#     under the tag, with --force when the tag exists with another digest, and
#     checks the digest the registry reports afterwards. (Importing by digest,
#     not by tag: the tag on Docker Hub may have moved since the digest was pinned,
#     and FROM ...@<digest> needs exactly that manifest.)
#
# Reads the registry name, the runtime and the digest from the stack file
# (stack_value); a stack that does not set dcs:image.runtime builds on the
# program's default runtime, taken from its offline rendering (RUNTIME_TAG).
# Run it after scripts/ci/registry-login.sh, which creates the registry on a
# stack's first deployment. Needs an Azure CLI logged in as an identity that
# may import into the registry (Contributor on it, or a role with
# Microsoft.ContainerRegistry/registries/importImage/action).
#
# Usage: scripts/ci/import-base.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/import-base.sh STACK}"
log() { printf 'import-base: %s\n' "$*"; }
base_repository=databricksruntime/standard

if [[ "$(stack_value "$stack" dcs:image baseFromRegistry)" != true ]]; then
  log "stack $stack builds on the base from Docker Hub (dcs:image.baseFromRegistry is not true); nothing to import"
  exit 0
fi
registry="$(stack_value "$stack" dcs:registry name)"
if [[ -z "$registry" ]]; then
  echo "import-base: stack $stack sets dcs:image.baseFromRegistry but declares no registry (dcs:registry.name)" >&2
  exit 1
fi
runtime="$(stack_value "$stack" dcs:image runtime)"
if [[ -z "$runtime" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  render_stack "$stack" "$tmp/rendering.json" || exit 1
  runtime="$(node -e '
    const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const image = doc.resources.find((r) => r.type === "docker:index/image:Image");
    process.stdout.write(String(image?.inputs?.build?.args?.RUNTIME_TAG ?? ""));
  ' "$tmp/rendering.json")"
  [[ -n "$runtime" ]] || { echo "import-base: the rendering of stack $stack gives the image no RUNTIME_TAG" >&2; exit 1; }
fi
digest="$(stack_value "$stack" dcs:image baseDigest)"
image="$base_repository:$runtime"

current="$(az acr repository show --name "$registry" --image "$image" --query digest --output tsv 2>/dev/null || true)"
force=()
if [[ -z "$digest" ]]; then
  if [[ -n "$current" ]]; then
    log "$registry already holds $image ($current); nothing to import"
    exit 0
  fi
  source_ref="docker.io/$base_repository:$runtime"
else
  if [[ "$current" == "$digest" ]]; then
    log "$registry already holds $image at the pinned $digest; nothing to import"
    exit 0
  fi
  source_ref="docker.io/$base_repository@$digest"
  if [[ -n "$current" ]]; then
    force=(--force)
    log "$registry holds $image at $current, not the pinned $digest: importing it again"
  fi
fi

log "importing $source_ref into $registry as $image"
az acr import --name "$registry" --source "$source_ref" --image "$image" "${force[@]}"
if [[ -n "$digest" ]]; then
  after="$(az acr repository show --name "$registry" --image "$image" --query digest --output tsv)"
  if [[ "$after" != "$digest" ]]; then
    echo "import-base: $registry reports $image at ${after:-no digest} after the import, not the pinned $digest" >&2
    exit 1
  fi
fi
log "$registry holds $image${digest:+ at $digest}"
