#!/usr/bin/env bash
# Builds every cluster image of the stack exactly as `pulumi up` will build it,
# then smoke-tests each, before anything logs in or pushes.
#
# The builds are read from the stack's offline rendering (scripts/ci/rendering.js
# images), never repeated here: each image's build context, Dockerfile,
# platform and every build argument the program passes to its docker.Image
# (RUNTIME_TAG, BASE_IMAGE, IMAGE_SOURCE, IMAGE_REVISION, IMAGE_VERSION; a GPU
# image also CUDA_VERSION and PYTHON_VERSION). So the images tested are the
# images deployed, and the builds `pulumi up` runs later with the same
# Dockerfiles and arguments are answered from BuildKit's cache. The default
# image (dcs:image) is tagged dcs-smoke:ci, another one dcs-smoke-<name>:ci.
#
# The smoke test of an image is the one beside its Dockerfile
# (<context>/smoke-test.sh, infra/image's), run with --no-build against the
# image built here. A context without one (infra/image-gpu) gets the checks
# that smoke test runs, the ones every cluster image must pass, against its own
# requirements (infra/image-checks.sh: platform, labels, every pin of the
# context's requirements installed and importing, pyspark absent, the lock; the
# CUDA label of a GPU image); infra/image/smoke-test.sh itself checks the CPU
# image's pins, which are not the GPU image's.
#
# --base-from-docker-hub (the pull request's secret-free smoke build): when the
# program builds an image on the base imported into the stack's registry
# (baseFromRegistry: true, BASE_IMAGE <registry>.azurecr.io/<base>), which a job
# without credentials cannot pull, BASE_IMAGE becomes the same base on Docker
# Hub, <base> with the registry host stripped (databricksruntime/standard:<runtime>
# or nvidia/cuda:<cuda>-runtime-ubuntu<ubuntu>, @<baseDigest> kept; the registry
# holds an unchanged copy of it: scripts/ci/import-base.sh); every other
# argument stays the program's. Deployments build without it, after the
# registry login, from the stack's registry.
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
log() { printf 'smoke-build: %s\n' "$*"; }

status=0
stack_images "$stack" || status=$?
((status != 3)) || { log "stack $stack declares no image; nothing to build"; exit 0; }
((status == 0)) || exit "$status"

cd "$ci_root"
# Every image's smoke test is there before anything is built.
for i in "${!image_name[@]}"; do
  context="${image_context[i]}"
  if [[ ! -f "$context/smoke-test.sh" ]]; then
    requirements="$(image_arg "$i" REQUIREMENTS)"
    requirements="${requirements:-requirements.txt}"
    if [[ ! -f "$context/$requirements" || ! -f "$context/check_requirements.py" ]]; then
      log "image ${image_name[i]}: no smoke test beside the Dockerfile: $context/smoke-test.sh is missing, and so is $context/$requirements or $context/check_requirements.py to check it with infra/image-checks.sh" >&2
      exit 1
    fi
  fi
done

for i in "${!image_name[@]}"; do
  name="${image_name[i]}"
  context="${image_context[i]}"
  tag=dcs-smoke:ci
  [[ "$name" == default ]] || tag="dcs-smoke-$name:ci"
  command=(docker build --platform "${image_platform[i]}" -f "${image_dockerfile[i]}")
  for arg in "${image_args[@]:${image_args_from[i]}:${image_nargs[i]}}"; do
    if [[ "$base_from_docker_hub" == true && "$arg" == BASE_IMAGE=* && "${arg#BASE_IMAGE=}" == *.azurecr.io/* ]]; then
      hub="${arg#BASE_IMAGE=}"
      hub="${hub#*.azurecr.io/}"
      log "image $name: BASE_IMAGE ${arg#BASE_IMAGE=} is the stack's registry, which this job cannot pull: building on the same base from Docker Hub, $hub"
      arg="BASE_IMAGE=$hub"
    fi
    command+=(--build-arg "$arg")
  done
  command+=(-t "$tag" "$context")

  log "building image $name of stack $stack as pulumi up will: ${command[*]}"
  DOCKER_BUILDKIT=1 "${command[@]}"
  if [[ -f "$context/smoke-test.sh" ]]; then
    bash "$context/smoke-test.sh" --image "$tag" --no-build
  else
    requirements="$(image_arg "$i" REQUIREMENTS)"
    cuda="$(image_arg "$i" CUDA_VERSION)"
    log "image $name: $context has no smoke-test.sh of its own; running the checks every cluster image must pass (infra/image-checks.sh)"
    bash "$ci_root/infra/image-checks.sh" --image "$tag" --context "$context" --requirements "${requirements:-requirements.txt}" ${cuda:+--cuda "$cuda"}
  fi
done
