#!/usr/bin/env bash
# Smoke test of the cluster image, for anyone with Docker: builds infra/image
# for linux/amd64 (unless --no-build), then checks that the image is
# linux/amd64, carries the team's labels, and that every package of
# requirements.txt imports with the Databricks Python.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/smoke-test.sh [--image REF] [--runtime TAG] [--no-build]

  --image REF     image to build and check (default: dcs-hydrology:smoke)
  --runtime TAG   databricksruntime/standard tag to build on (default: 16.4-LTS)
  --no-build      check REF as it is (e.g. after a pipeline's own docker build)
  -h, --help      this text

Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
context="$here/image"
image="dcs-hydrology:smoke"
runtime="16.4-LTS"
build=true
python=/databricks/python3/bin/python

while (($#)); do
  case "$1" in
    --image) image="${2:?--image needs a value}"; shift 2 ;;
    --runtime) runtime="${2:?--runtime needs a value}"; shift 2 ;;
    --no-build) build=false; shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'smoke-test: unknown argument %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null || { echo "smoke-test: docker is not on PATH" >&2; exit 2; }

failures=0
check() { # description, then the command that must succeed
  local what="$1"
  shift
  if "$@"; then
    printf 'ok    %s\n' "$what"
  else
    printf 'FAIL  %s\n' "$what"
    failures=$((failures + 1))
  fi
}

# Import names of the pinned distributions: the name with dashes as underscores,
# except where a package imports under another name.
import_names() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$context/requirements.txt" | grep -v '^$' | sed -e 's/[=<>!~;[].*//' |
    while read -r dist; do
      case "$dist" in
        pyyaml | PyYAML) echo yaml ;;
        scikit-learn) echo sklearn ;;
        *) echo "${dist//-/_}" ;;
      esac
    done
}

if $build; then
  echo "building $image from $context on databricksruntime/standard:$runtime (linux/amd64)"
  DOCKER_BUILDKIT=1 docker build --platform linux/amd64 --build-arg "RUNTIME_TAG=$runtime" -t "$image" "$context"
fi

platform="$(docker image inspect --format '{{.Os}}/{{.Architecture}}' "$image")"
check "platform is linux/amd64 (got $platform)" test "$platform" = "linux/amd64"
label="$(docker image inspect --format '{{ index .Config.Labels "solution" }}' "$image")"
check "label solution=xkp (got '$label')" test "$label" = "xkp"

modules="$(import_names | paste -sd, -)"
check "every requirement imports with $python: $modules" \
  docker run --rm --platform linux/amd64 --entrypoint "$python" "$image" \
  -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1].split(',')]" "$modules"
check "pyspark is not baked into the image (the runtime injects it)" \
  docker run --rm --platform linux/amd64 --entrypoint "$python" "$image" \
  -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('pyspark') is not None)"

if ((failures)); then
  echo "smoke-test: $failures check(s) failed for $image" >&2
  exit 1
fi
echo "smoke-test: $image passed"
