#!/usr/bin/env bash
# Smoke test of the hydrology cluster image, for anyone with Docker.
#
# Builds the image from this folder for linux/amd64 (unless --no-build), then
# runs on it the checks every cluster image must pass (infra/image-checks.sh,
# beside this folder, not in the build context): linux/amd64, labelled
# solution=xkp, and, inside it with /databricks/python3/bin/python and no
# network, every pin of this folder's requirements.txt installed at its
# version and importing, pyspark not baked in (check_requirements.py does the
# Python side), the lock recorded.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="dcs-hydrology:smoke"
runtime="$(sed -n 's/^ARG RUNTIME_TAG=//p' "$here/Dockerfile")"
build=true

usage() {
  cat <<USAGE
Usage: infra/image/smoke-test.sh [--image REF] [--runtime TAG] [--no-build]

  --image REF     image to build and check (default: $image)
  --runtime TAG   databricksruntime/standard tag to build on (default: $runtime, the Dockerfile's)
  --no-build      check REF as it is, e.g. after a pipeline's own docker build
  -h, --help      this text

Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage or no docker.
USAGE
}

while (($#)); do
  case "$1" in
    --image | --runtime)
      if (($# < 2)) || [[ -z "$2" || "$2" == -* ]]; then
        printf 'smoke-test: %s needs a value\n\n' "$1" >&2
        usage >&2
        exit 2
      fi
      if [[ "$1" == --image ]]; then image="$2"; else runtime="$2"; fi
      shift 2
      ;;
    --no-build) build=false; shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'smoke-test: unknown argument %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null || { echo "smoke-test: docker is not on PATH" >&2; exit 2; }

if "$build"; then
  echo "smoke-test: building $image on databricksruntime/standard:$runtime for linux/amd64"
  DOCKER_BUILDKIT=1 docker build --platform linux/amd64 --build-arg "RUNTIME_TAG=$runtime" -t "$image" "$here"
fi

# The checks every cluster image must pass, against this folder's requirements.txt.
exec bash "$here/../image-checks.sh" --image "$image" --context "$here" --as smoke-test
