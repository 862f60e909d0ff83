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
# Needs a logged-in Pulumi CLI (the stack's secrets provider encrypts).
#
# Usage: scripts/ci/stack-secrets.sh STACK
set -euo pipefail

stack="${1:?usage: scripts/ci/stack-secrets.sh STACK}"
set_from_env() { # config key, environment variable name
  local key="$1" var="$2"
  local value="${!var:-}"
  if [[ -n "$value" && "$value" != "\$($var)" ]]; then
    pulumi config set --secret --stack "$stack" "$key" <<<"$value"
    printf 'stack-secrets: %s set from %s\n' "$key" "$var"
  fi
}

set_from_env dcs:pullClientSecret DCS_PULL_CLIENT_SECRET
set_from_env dcs:pushClientSecret DCS_PUSH_CLIENT_SECRET
