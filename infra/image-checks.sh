#!/usr/bin/env bash
# The checks every cluster image must pass, for anyone with Docker, against the
# build context it was built from (infra/image, infra/image-gpu, ...):
#   - the image exists and is linux/amd64 (Databricks runs nothing else);
#   - labels solution=xkp and org.opencontainers.image.title; source, revision
#     and version printed;
#   - a GPU image (--cuda, its build argument CUDA_VERSION): its label
#     dcs.cuda.version is that CUDA;
#   - inside it, with /databricks/python3/bin/python and no network, every pin
#     of <context>/<requirements> (requirements.txt unless --requirements, the
#     build argument REQUIREMENTS, names another) is installed at its version
#     and imports, and pyspark is absent: the context's check_requirements.py
#     does the Python side;
#   - the resolved environment is recorded at /databricks/dcs/requirements.lock.
# Nothing here needs a GPU: the image's imports run without one (its own build
# imports every pin the same way). What needs a GPU node (CUDA against the
# host's driver, dask-cuda workers) is not checked here.
#
# It builds nothing. infra/image/smoke-test.sh builds the CPU image and runs
# these checks on it; scripts/ci/smoke-build.sh runs them on an image whose
# context has no smoke test of its own (infra/image-gpu).
#
# Usage: infra/image-checks.sh --image REF --context DIR [--requirements FILE] [--cuda VERSION] [--as NAME]
#   --as NAME   the name the summary lines start with (default: image-checks)
# Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage, a
# missing file or no docker.
set -euo pipefail

usage='usage: infra/image-checks.sh --image REF --context DIR [--requirements FILE] [--cuda VERSION] [--as NAME]'
image="" context="" requirements=requirements.txt cuda="" name=image-checks
while (($#)); do
  case "$1" in
    --image | --context | --requirements | --cuda | --as)
      if (($# < 2)) || [[ -z "$2" ]]; then
        echo "$usage" >&2
        exit 2
      fi
      case "$1" in
        --image) image="$2" ;;
        --context) context="$2" ;;
        --requirements) requirements="$2" ;;
        --cuda) cuda="$2" ;;
        --as) name="$2" ;;
      esac
      shift 2
      ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *)
      echo "$usage" >&2
      exit 2
      ;;
  esac
done
if [[ -z "$image" || -z "$context" ]]; then
  echo "$usage" >&2
  exit 2
fi
for file in "$context/$requirements" "$context/check_requirements.py"; do
  if [[ ! -f "$file" ]]; then
    echo "$name: $file is missing: nothing to check the image's Python environment against" >&2
    exit 2
  fi
done
command -v docker >/dev/null || { echo "$name: docker is not on PATH" >&2; exit 2; }
python=/databricks/python3/bin/python

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
  echo "FAIL  image $image not found (build it first)"
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
if [[ -n "$cuda" ]]; then
  label="$(inspect '{{index .Config.Labels "dcs.cuda.version"}}')"
  check "label dcs.cuda.version=$cuda (got '$label')" test "$label" = "$cuda"
fi

mapfile -t pins < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$context/$requirements" | grep -v '^$')
echo "$name: checking ${#pins[@]} pins of $context/$requirements inside $image with $python (no network)"
check "every pin of $context/$requirements is installed at its version and imports; pyspark is absent" \
  docker run --rm -i --network none --platform linux/amd64 --entrypoint "$python" "$image" \
  -B - "${pins[@]}" <"$context/check_requirements.py"
check "the resolved environment is recorded at /databricks/dcs/requirements.lock" \
  docker run --rm --network none --platform linux/amd64 --entrypoint test "$image" -s /databricks/dcs/requirements.lock

if ((failures)); then
  echo "$name: $failures check(s) failed for $image" >&2
  exit 1
fi
echo "$name: $image passed"
