#!/usr/bin/env bash
# Hands the job's later steps the state backend of one stack, with a
# credential that can only read it (ACCESS read: previews, the prod preview
# the approver sees, drift checks) or also write it (ACCESS write: deployments).
#
#   PULUMI_BACKEND_URL (from the CI variables) names the backend (backend_url
#   in lib.sh). A team stack reads its platform stack's outputs through a
#   StackReference, which a self-managed backend resolves only within itself,
#   so the two share one: `{platform}` in the URL stands for the name of the
#   stack's platform stack (a platform stack's own name), which gives each
#   workspace a container of its own, apart from the other workspaces':
#     azblob://pulumi-{platform}?storage_account=dcsstate
#   (pulumi-platform-dev holds platform-dev and dev; pulumi-platform-prod
#   holds platform-prod and prod). `{stack}` stands for the stack's own name
#   (a container per stack): refused for a team stack whose platform stack it
#   would put in another backend. Empty means Pulumi Cloud
#   (https://api.pulumi.com). The resolved URL is set as PULUMI_BACKEND_URL for
#   the later steps (`pulumi login` reads it).
#
#   Azure Blob: a user-delegation SAS for the stack's container, valid three
#   hours, minted with the Azure CLI session of the job's OIDC / workload
#   identity login (run this right after that login: the session can fetch a
#   token for a new resource, here Storage, only for a few minutes). Read: list
#   and read (`rl`); write: read, add, create, write, delete, list (`racwdl`).
#   Set as the secret AZURE_STORAGE_SAS_TOKEN, with AZURE_STORAGE_ACCOUNT.
#   The identity needs Storage Blob Data Reader (read) or Contributor (write)
#   on the container, and Storage Blob Delegator on the account.
#
#   Pulumi Cloud: nothing to mint here. GitHub gets a short-lived token of a
#   team from pulumi/auth-actions (a team with Stack Read for read jobs, one
#   with Stack Write on this stack only for its deployment); Azure DevOps reads
#   PULUMI_ACCESS_TOKEN from the job's variable group (a read-only team token
#   in the read group, the stack's own team token in its deploy group).
#
# Usage: scripts/ci/state-login.sh STACK read|write
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/state-login.sh STACK read|write'
if (($# != 2)) || [[ "$2" != read && "$2" != write ]]; then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
access="$2"
log() { printf 'state-login: %s\n' "$*"; }

url="$(backend_url "$stack")"
platform="$(platform_stack_of "$stack")"
if [[ -n "$platform" && "$url" != https://* ]]; then
  platform_url="$(backend_url "${platform##*/}")"
  if [[ "$platform_url" != "$url" ]]; then
    echo "state-login: stack $stack reads platform stack $platform through a StackReference, which a self-managed backend resolves only within itself, but PULUMI_BACKEND_URL puts them in two ($url, $platform_url): use {platform} instead of {stack} (azblob://pulumi-{platform}?storage_account=<account>)" >&2
    exit 1
  fi
fi
ci_set_env PULUMI_BACKEND_URL "$url"

if [[ "$url" != azblob://* ]]; then
  log "stack $stack: state in $url (credential: the job's Pulumi token, $access access)"
  exit 0
fi

container="${url#azblob://}"
container="${container%%\?*}"
account="${AZURE_STORAGE_ACCOUNT:-}"
if [[ "$url" =~ [?\&]storage_account=([^\&]+) ]]; then account="${BASH_REMATCH[1]}"; fi
if [[ -z "$account" ]]; then
  echo "state-login: $url names no storage account (add ?storage_account=<account>)" >&2
  exit 1
fi
permissions=rl
[[ "$access" == read ]] || permissions=racwdl
expiry="$(date -u -d '+3 hours' '+%Y-%m-%dT%H:%MZ')"
sas="$(az storage container generate-sas --account-name "$account" --name "$container" \
  --permissions "$permissions" --expiry "$expiry" --auth-mode login --as-user --https-only --output tsv)"
ci_set_env AZURE_STORAGE_ACCOUNT "$account"
ci_set_secret AZURE_STORAGE_SAS_TOKEN "$sas"
log "stack $stack: state container $container in $account, user-delegation SAS ($permissions, $access) until $expiry"
