#!/usr/bin/env bash
# Builds the stack's cluster image exactly as `pulumi up` will build it, then
# smoke-tests it, before anything logs in or pushes.
#
# The build is read from the stack's offline rendering (scripts/ci/rendering.js
# image-build), never repeated here: the image's build context, Dockerfile,
# platform and every build argument the program passes to docker.Image
# (RUNTIME_TAG, BASE_IMAGE, IMAGE_SOURCE, IMAGE_REVISION, IMAGE_VERSION today).
# So the image tested is the image deployed, and the build `pulumi up` runs
# later with the same Dockerfile and arguments is answered from BuildKit's cache.
# The smoke test is the one beside the Dockerfile (<context>/smoke-test.sh),
# run with --no-build against the image built here.
#
# --base-from-docker-hub (the pull request's secret-free smoke build): when the
# program builds on the base imported into the stack's registry
# (dcs:image.baseFromRegistry: true, BASE_IMAGE <registry>.azurecr.io/...),
# which a job without credentials cannot pull, BASE_IMAGE becomes the same
# base on Docker Hub, databricksruntime/standard:<RUNTIME_TAG>[@<baseDigest>]
# (the registry holds an unchanged copy of it: scripts/ci/import-base.sh);
# every other argument stays the program's. Deployments build without it,
# after the registry login, from the stack's registry.
#
# A stack without an image (a platform stack) builds nothing. Needs npm ci and Docker with BuildKit; no credentials.
#
# Usage: scripts/ci/smoke-build.sh STACK [--base-from-docker-hub]
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/smoke-build.sh STACK [--base-from-docker-hub]'
if (($# < 1 || $# > 2)) || { (($# == 2)) && [[ "$2" != --base-from-docker-hub ]]; }; then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
base_from_docker_hub=false
(($# == 1)) || base_from_docker_hub=true
tag=dcs-smoke:ci
log() { printf 'smoke-build: %s\n' "$*"; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
render_stack "$stack" "$tmp/rendering.json" || exit 1
status=0
node "$ci_root/scripts/ci/rendering.js" image-build "$tmp/rendering.json" >"$tmp/build" 2>"$tmp/error" || status=$?
if ((status == 3)); then
  log "stack $stack declares no image; nothing to build"
  exit 0
elif ((status != 0)); then
  cat "$tmp/error" >&2
  exit "$status"
fi
mapfile -d '' -t build <"$tmp/build"
context="${build[0]}"
dockerfile="${build[1]}"
platform="${build[2]}"
runtime_tag=""
for arg in "${build[@]:3}"; do [[ "$arg" != RUNTIME_TAG=* ]] || runtime_tag="${arg#RUNTIME_TAG=}"; done
command=(docker build --platform "$platform" -f "$dockerfile")
for arg in "${build[@]:3}"; do
  if [[ "$base_from_docker_hub" == true && "$arg" == BASE_IMAGE=* && "$arg" == *.azurecr.io/* ]]; then
    [[ -n "$runtime_tag" ]] || { echo "smoke-build: the image has no RUNTIME_TAG build argument to find its base on Docker Hub" >&2; exit 1; }
    digest="$(stack_value "$stack" dcs:image baseDigest)"
    hub="databricksruntime/standard:$runtime_tag${digest:+@$digest}"
    log "BASE_IMAGE ${arg#BASE_IMAGE=} is the stack's registry, which this job cannot pull: building on the same base from Docker Hub, $hub"
    arg="BASE_IMAGE=$hub"
  fi
  command+=(--build-arg "$arg")
done
command+=(-t "$tag" "$context")

smoke_test="$context/smoke-test.sh"
if [[ ! -f "$ci_root/$smoke_test" ]]; then
  log "no smoke test beside the Dockerfile: $smoke_test is missing" >&2
  exit 1
fi

cd "$ci_root"
log "building the image of stack $stack as pulumi up will: ${command[*]}"
DOCKER_BUILDKIT=1 "${command[@]}"
bash "$smoke_test" --image "$tag" --no-build
