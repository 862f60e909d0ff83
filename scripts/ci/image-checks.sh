#!/usr/bin/env bash
# The smoke checks scripts/ci/smoke-build.sh runs on an image whose build
# context has no smoke test of its own (no <context>/smoke-test.sh; today the
# GPU image, infra/image-gpu). infra/image/smoke-test.sh cannot stand in for
# one: it checks the pins of its own folder's requirements.txt, the CPU
# image's, which another context does not install (the GPU image pins other
# Dask, bokeh and pandas versions, torch and dask-cuda). So these are the checks
# of that smoke test that apply to any cluster image, each against the image's
# own context:
#   - the image exists and is linux/amd64 (Databricks runs nothing else);
#   - labels solution=xkp and org.opencontainers.image.title; source, revision
#     and version printed;
#   - inside it, with /databricks/python3/bin/python and no network, every pin
#     of <context>/<REQUIREMENTS> (requirements.txt unless the build argument
#     REQUIREMENTS names another) is installed at its version and imports, and
#     pyspark is absent: <context>/check_requirements.py, as the smoke test
#     runs it;
#   - the resolved environment is recorded at /databricks/dcs/requirements.lock;
#   - a GPU image (--cuda, the build argument CUDA_VERSION): its label
#     dcs.cuda.version is that CUDA.
# Nothing here needs a GPU: the image's imports run without one (its own build
# imports every pin the same way). What needs a GPU node (CUDA against the
# host's driver, dask-cuda workers) is not checked here.
#
# Usage: scripts/ci/image-checks.sh --image REF --context DIR [--requirements FILE] [--cuda VERSION]
# Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage.
set -euo pipefail

usage='usage: scripts/ci/image-checks.sh --image REF --context DIR [--requirements FILE] [--cuda VERSION]'
image="" context="" requirements=requirements.txt cuda=""
while (($#)); do
  case "$1" in
    --image | --context | --requirements | --cuda)
      if (($# < 2)) || [[ -z "$2" ]]; then
        echo "$usage" >&2
        exit 2
      fi
      case "$1" in
        --image) image="$2" ;;
        --context) context="$2" ;;
        --requirements) requirements="$2" ;;
        --cuda) cuda="$2" ;;
      esac
      shift 2
      ;;
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
    echo "image-checks: $file is missing: the context has no smoke test of its own and nothing to check the image's Python environment against" >&2
    exit 2
  fi
done
python=/databricks/python3/bin/python

failures=0
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
  echo "FAIL  image $image not found"
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
echo "image-checks: checking ${#pins[@]} pins of $context/$requirements inside $image with $python (no network)"
check "every pin of $context/$requirements is installed at its version and imports; pyspark is absent" \
  docker run --rm -i --network none --platform linux/amd64 --entrypoint "$python" "$image" \
  -B - "${pins[@]}" <"$context/check_requirements.py"
check "the resolved environment is recorded at /databricks/dcs/requirements.lock" \
  docker run --rm --network none --platform linux/amd64 --entrypoint test "$image" -s /databricks/dcs/requirements.lock

if ((failures)); then
  echo "image-checks: $failures check(s) failed for $image" >&2
  exit 1
fi
echo "image-checks: $image passed"
