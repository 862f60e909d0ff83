#!/usr/bin/env bash
# Tells the Databricks provider (and the Databricks CLI of the cluster check
# and of the smoke job) of the job's later steps which workspace to use and
# how to authenticate as the job's identity, in a way that outlasts a long
# `pulumi up`.
#
# DATABRICKS_HOST: the stack's workspace (stack_workspace in lib.sh): a team
# stack runs in the workspace of its platform stack (dcs:platform.stack), whose
# stack file names it; a platform stack, or a stack on its own, names it in its
# own dcs:workspace. A URL is taken as it is; for a resource id, the workspace
# URL Azure gives (the SDK's OIDC strategies need the host itself).
#
# GitHub Actions: DATABRICKS_AUTH_TYPE=github-oidc-azure. The Databricks SDK
# then requests its own GitHub OIDC token when the provider starts (with the
# job's ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, so the job needs id-token: write)
# and exchanges it with Microsoft Entra ID for a token of the Azure Databricks
# resource as ARM_CLIENT_ID in ARM_TENANT_ID (databricks-sdk-go
# config/auth_azure_github_oidc.go). Nothing depends on the Azure CLI session
# of azure/login, which cannot fetch a token for a new resource once the
# workflow's OIDC token it was given has expired (minutes after the login).
#
# Azure DevOps: DATABRICKS_AUTH_TYPE=pat with DATABRICKS_TOKEN, a Microsoft
# Entra access token for the Azure Databricks resource, minted here from the
# AzureCLI@2 task's fresh workload-identity login of the environment's own
# service connection. The pipelines run this script in the step right before
# each step that talks to Databricks, so every such step starts with a token
# of about an hour (a service principal's default) and no step outlives it in
# practice (the whole job times out at 60 minutes). The SDK's
# azure-devops-oidc strategy would refresh by itself, but its federation
# subject names the pipeline (p://<org>/<project>/<pipeline>), not the
# environment or the branch: any run of the pipeline, a pull request's
# included, could obtain the deploy identity's Databricks token. The service
# connection, behind its branch control check, cannot be used that way.
#
# Usage: scripts/ci/databricks-auth.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/databricks-auth.sh STACK}"
# The Azure Databricks first-party application (the token's audience).
databricks_resource=2ff814a6-3304-4ab8-85cb-cd0e6f879c1d
log() { printf 'databricks-auth: %s\n' "$*"; }

workspace="$(stack_workspace "$stack")" || exit 1
platform="$(platform_stack_of "$stack")"
origin="stack $stack"
[[ -z "$platform" ]] || origin="platform stack $platform of stack $stack"
case "$workspace" in
  url\ *) host="${workspace#url }" ;;
  *) host="https://$(az resource show --ids "${workspace#resourceId }" --query properties.workspaceUrl --output tsv)" ;;
esac
ci_set_env DATABRICKS_HOST "$host"

case "$(ci_system)" in
  github)
    if [[ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" || -z "${ARM_CLIENT_ID:-}" || -z "${ARM_TENANT_ID:-}" ]]; then
      echo "databricks-auth: github-oidc-azure needs the job's OIDC token (permissions: id-token: write), ARM_CLIENT_ID and ARM_TENANT_ID" >&2
      exit 1
    fi
    ci_set_env DATABRICKS_AUTH_TYPE github-oidc-azure
    log "workspace $host (of $origin); the Databricks SDK exchanges the job's own GitHub OIDC token (github-oidc-azure) as $ARM_CLIENT_ID"
    ;;
  *)
    token="$(az account get-access-token --resource "$databricks_resource" --query accessToken --output tsv)"
    ci_set_env DATABRICKS_AUTH_TYPE pat
    ci_set_secret DATABRICKS_TOKEN "$token"
    log "workspace $host (of $origin); Entra token of the service connection's identity, fetched now for the next step"
    ;;
esac
