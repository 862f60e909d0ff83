#!/usr/bin/env bash
# Azure DevOps only: reads the two pinned tool versions and sets them as the
# pipeline variables NODE_VERSION and PULUMI_VERSION, which the UseNode@1 and
# Pulumi@1 tasks of the next steps take as their version inputs (neither task
# reads a version file itself). GitHub reads the same files directly
# (actions/setup-node node-version-file, pulumi/actions pulumi-version-file),
# and so does the devcontainer:
#
#   .nvmrc                       Node.js: the major version of the current LTS
#   .devcontainer/pulumi-version the Pulumi CLI, exact (the @pulumi/pulumi SDK's version)
#
# Usage: scripts/ci/tool-versions.sh
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read_version() { # FILE PATTERN
  local value
  value="$(tr -d '[:space:]' <"$ci_root/$1")"
  if [[ ! "$value" =~ $2 ]]; then
    echo "tool-versions: $1 holds '$value', not a version" >&2
    exit 1
  fi
  printf '%s\n' "$value"
}

node_version="$(read_version .nvmrc '^[0-9]+(\.[0-9]+){0,2}$')"
pulumi_version="$(read_version .devcontainer/pulumi-version '^[0-9]+\.[0-9]+\.[0-9]+$')"
ci_set_env NODE_VERSION "$node_version"
ci_set_env PULUMI_VERSION "$pulumi_version"
printf 'tool-versions: Node.js %s (.nvmrc), Pulumi CLI %s (.devcontainer/pulumi-version)\n' "$node_version" "$pulumi_version"
