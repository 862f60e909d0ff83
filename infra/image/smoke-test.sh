#!/usr/bin/env bash
# Smoke test of the hydrology cluster image, for anyone with Docker.
#
# Builds the image from this folder for linux/amd64 (unless --no-build), then
# checks that it is linux/amd64 and labelled solution=xkp, and, inside it with
# /databricks/python3/bin/python and no network, that every pin of
# requirements.txt is installed at its version and imports, and that pyspark is
# not baked in (check_requirements.py does the Python side).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/databricks/python3/bin/python
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

failures=0
# check DESCRIPTION COMMAND...: one line per check, counted when it fails.
check() {
  local what="$1"
  shift
  if "$@"; then
    printf 'ok    %s\n' "$what"
  else
    printf 'FAIL  %s\n' "$what"
    failures=$((failures + 1))
  fi
}

if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "FAIL  image $image not found (build it, or drop --no-build)"
  exit 1
fi
inspect() { docker image inspect --format "$1" "$image"; }
platform="$(inspect '{{.Os}}/{{.Architecture}}')"
check "platform is linux/amd64 (got $platform)" test "$platform" = linux/amd64
solution="$(inspect '{{index .Config.Labels "solution"}}')"
check "label solution=xkp (got '$solution')" test "$solution" = xkp
title="$(inspect '{{index .Config.Labels "org.opencontainers.image.title"}}')"
check "label org.opencontainers.image.title is set (got '$title')" test -n "$title"
for label in source revision version; do
  printf 'info  org.opencontainers.image.%s=%s\n' "$label" "$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")"
done

mapfile -t pins < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/requirements.txt" | grep -v '^$')
echo "smoke-test: checking ${#pins[@]} pins inside $image with $python (no network)"
check "every pin of requirements.txt is installed at its version and imports; pyspark is absent" \
  docker run --rm -i --network none --platform linux/amd64 --entrypoint "$python" "$image" \
  -B - "${pins[@]}" <"$here/check_requirements.py"
check "the resolved environment is recorded at /databricks/dcs/requirements.lock" \
  docker run --rm --network none --platform linux/amd64 --entrypoint test "$image" -s /databricks/dcs/requirements.lock

if ((failures)); then
  echo "smoke-test: $failures check(s) failed for $image" >&2
  exit 1
fi
echo "smoke-test: $image passed"
