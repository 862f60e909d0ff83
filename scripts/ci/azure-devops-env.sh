#!/usr/bin/env bash
# Azure DevOps only: runs inside an AzureCLI@2 task (logged in through the
# service connection, workload identity federation) and hands the next tasks
# of the job the short-lived credentials the Pulumi@1 task cannot get itself.
# The Pulumi task gives azure-native its OIDC token (ARM_OIDC_TOKEN), but no
# Azure CLI session, so:
#
# - Databricks: a Microsoft Entra access token for the Azure Databricks
#   resource (about an hour), as the secret variable DATABRICKS_TOKEN, with
#   DATABRICKS_HOST (dcs:workspace.url, or looked up from
#   dcs:workspace.resourceId) and DATABRICKS_AUTH_TYPE=pat.
# - State in Azure Blob (PULUMI_BACKEND_URL=azblob://<container>?storage_account=<account>):
#   a user-delegation SAS for the container, valid 3 hours, as the secret
#   variable AZURE_STORAGE_SAS_TOKEN, and AZURE_STORAGE_ACCOUNT.
#   The identity needs Storage Blob Data Contributor on the container.
#
# Nothing long-lived is stored anywhere. Secret values reach the agent only
# through its setvariable command with issecret=true, which masks them in logs.
#
# Usage: scripts/ci/azure-devops-env.sh STACK
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: scripts/ci/azure-devops-env.sh STACK}"
# The Azure Databricks first-party application (the token's audience).
databricks_resource=2ff814a6-3304-4ab8-85cb-cd0e6f879c1d

set_var() { # name, value
  printf '##vso[task.setvariable variable=%s]%s\n' "$1" "$2"
}
set_secret_var() { # name, value (masked by the agent from here on)
  printf '##vso[task.setvariable variable=%s;issecret=true]%s\n' "$1" "$2"
}

host="$(stack_value "$stack" dcs:workspace url)"
if [[ -z "$host" ]]; then
  resource_id="$(stack_value "$stack" dcs:workspace resourceId)"
  if [[ -z "$resource_id" ]]; then
    echo "azure-devops-env: Pulumi.$stack.yaml names no workspace (dcs:workspace.url or .resourceId)" >&2
    exit 1
  fi
  host="https://$(az resource show --ids "$resource_id" --query properties.workspaceUrl --output tsv)"
fi
databricks_token="$(az account get-access-token --resource "$databricks_resource" --query accessToken --output tsv)"
set_var DATABRICKS_HOST "$host"
set_var DATABRICKS_AUTH_TYPE pat
set_secret_var DATABRICKS_TOKEN "$databricks_token"
echo "azure-devops-env: Databricks workspace $host, Entra token for the pipeline identity"

backend="${PULUMI_BACKEND_URL:-}"
if [[ "$backend" == azblob://* ]]; then
  container="${backend#azblob://}"
  container="${container%%\?*}"
  account="${AZURE_STORAGE_ACCOUNT:-}"
  if [[ "$backend" =~ [?\&]storage_account=([^\&]+) ]]; then account="${BASH_REMATCH[1]}"; fi
  if [[ -z "$account" ]]; then
    echo "azure-devops-env: $backend names no storage account (add ?storage_account=<account>)" >&2
    exit 1
  fi
  expiry="$(date -u -d '+3 hours' '+%Y-%m-%dT%H:%MZ')"
  sas="$(az storage container generate-sas --account-name "$account" --name "$container" \
    --permissions racwdl --expiry "$expiry" --auth-mode login --as-user --https-only --output tsv)"
  set_var AZURE_STORAGE_ACCOUNT "$account"
  set_secret_var AZURE_STORAGE_SAS_TOKEN "$sas"
  echo "azure-devops-env: state container $container in $account, user-delegation SAS until $expiry"
fi
