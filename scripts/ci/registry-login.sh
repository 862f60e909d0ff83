#!/usr/bin/env bash
# Lets the runner's Docker push to the stack's registry (push mode dockerConfig:
# `pulumi up` pushes with the credentials Docker already holds). Needs an Azure
# CLI logged in as the pipeline identity (AcrPush on the registry).
#
# A stack without a registry (a container-services-only admin stack) needs
# nothing. On a stack's very first deployment the registry does not exist yet:
# the login is skipped with a warning, and the image push of that first
# `pulumi up` fails until the registry exists (see README.md, "Deploying an
# environment for real": create the registry first with --target, or use push
# mode servicePrincipal).
#
# Usage: scripts/ci/registry-login.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/registry-login.sh STACK}"
registry="$(stack_value "$stack" dcs:registry name)"
if [[ -z "$registry" ]]; then
  echo "registry-login: stack $stack declares no registry; nothing to log in to"
  exit 0
fi
if ! az acr show --name "$registry" --query id --output none 2>/dev/null; then
  ci_warning "registry $registry does not exist yet (or this identity cannot read it): the image push of this first deployment will fail; see README.md on the first deployment"
  exit 0
fi
az acr login --name "$registry"
