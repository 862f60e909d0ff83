#!/usr/bin/env bash
# Hands the stack the secrets a pipeline holds, before `pulumi preview`/`up`.
# A stack's secrets normally live encrypted in Pulumi.<stack>.yaml (set once
# with `pulumi config set --secret`); a pipeline may instead keep them in its
# own secret store and pass them in the environment:
#
#   DCS_PULL_CLIENT_SECRET  ->  dcs:pullClientSecret  (client secret of the pull identity)
#   DCS_PUSH_CLIENT_SECRET  ->  dcs:pushClientSecret  (push mode servicePrincipal)
#
# Each one that is set is encrypted into the runner's copy of the stack file
# (never committed); unset ones are left alone, so the program's own config
# check names any secret still missing. Values go through stdin, never argv.
# An Azure DevOps macro left unexpanded because its variable is not defined,
# such as the literal "$(DCS_PULL_CLIENT_SECRET)", counts as unset.
#
# --preview (previews, the prod preview an approver sees, drift checks): the
# push secret is a deploy credential and never taken, even when the
# environment holds it. A stack in push mode servicePrincipal whose stack file
# does not hold dcs:pushClientSecret gets a placeholder instead, which changes
# nothing a preview shows: it is only the docker.Image registry password, and
# the Docker provider leaves registry username and password out of its diff
# (pulumi-docker provider/provider.go, diffUpdates: only `server` counts), and
# a preview neither builds nor pushes. The pull secret (AcrPull only) is taken:
# the stack stores it in a Databricks secret, whose diff compares the value.
#
# A platform stack (dcs:kind: platform) holds no secret: it has no registry,
# no image and no pull secret, and its configuration refuses both keys, so
# nothing is set for it, even in a job (a preview, the drift check) whose
# environment holds the pull secret for the team stacks.
#
# Needs a logged-in Pulumi CLI (the stack's secrets provider encrypts).
#
# Usage: scripts/ci/stack-secrets.sh STACK [--preview]
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/stack-secrets.sh STACK [--preview]'
if (($# < 1 || $# > 2)) || { (($# == 2)) && [[ "$2" != --preview ]]; }; then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
preview=false
(($# == 1)) || preview=true
# Not a secret: what a preview encrypts into dcs:pushClientSecret when it has none.
placeholder="preview-placeholder-not-a-credential"

if [[ "$(stack_value "$stack" dcs:kind)" == platform ]]; then
  printf 'stack-secrets: %s is a platform stack (dcs:kind: platform), which takes no secrets; nothing to set\n' "$stack"
  exit 0
fi

set_secret() { # config key, value, what to say
  pulumi config set --secret --stack "$stack" "$1" <<<"$2"
  printf 'stack-secrets: %s set from %s\n' "$1" "$3"
}
set_from_env() { # config key, environment variable name
  local key="$1" var="$2"
  local value="${!var:-}"
  if [[ -n "$value" && "$value" != "\$($var)" ]]; then set_secret "$key" "$value" "$var"; fi
}

set_from_env dcs:pullClientSecret DCS_PULL_CLIENT_SECRET
if [[ "$preview" == false ]]; then
  set_from_env dcs:pushClientSecret DCS_PUSH_CLIENT_SECRET
elif [[ "$(stack_value "$stack" dcs:image push mode)" == servicePrincipal ]] && ! stack_has "$stack" dcs:pushClientSecret; then
  set_secret dcs:pushClientSecret "$placeholder" "a placeholder (previews never hold the push secret)"
fi
