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
# A stack without an image (a container-services-only admin stack) builds
# nothing. Needs npm ci and Docker with BuildKit; no credentials.
#
# Usage: scripts/ci/smoke-build.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/smoke-build.sh STACK}"
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
command=(docker build --platform "$platform" -f "$dockerfile")
for arg in "${build[@]:3}"; do command+=(--build-arg "$arg"); done
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
