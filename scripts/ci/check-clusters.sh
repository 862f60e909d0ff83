#!/usr/bin/env bash
# Checks the stack's Databricks clusters around `pulumi up`. Editing a cluster
# restarts it when it is running, and the Databricks provider returns from the
# edit without waiting for the restart (terraform-provider-databricks
# clusters/resource_cluster.go: resourceClusterUpdate calls Edit, or Resize
# when only the size changed, and returns), so `pulumi up` succeeds even when
# the restarted cluster then fails to pull its image or run its init scripts.
#
#   snapshot STACK FILE   before `pulumi up`: records, for every cluster of the
#                         stack's outputs (clusterId, and the id of each entry
#                         of a clusters output), its state and a fingerprint of
#                         the spec fields whose change restarts it. A stack not
#                         deployed yet, or without clusters, records none.
#   verify STACK FILE     after `pulumi up`: every cluster that is new or was
#                         running must reach RUNNING (through PENDING, RESTARTING,
#                         RESIZING); one that was TERMINATED must still be
#                         TERMINATED: an edit never starts a terminated cluster,
#                         so finding it running is noted, not failed. One line per
#                         cluster says whether its spec changed and the state it
#                         reached; a cluster that ends TERMINATED or ERROR
#                         unexpectedly, or times out, fails the check with its
#                         termination reason and its latest event. A termination
#                         by inactivity or by a user is not the deployment's doing:
#                         noted, not failed.
#
# Environment:
#   DCS_CHECK_TIMEOUT_SECONDS   how long verify waits for all clusters (default 1200)
#   DCS_CHECK_INTERVAL_SECONDS  between two readings of a cluster (default 15; fractions allowed)
#   The Databricks CLI's own: DATABRICKS_AUTH_TYPE and its credentials as the
#   deploy job sets them. The workspace is the stack's (use_stack_workspace in
#   lib.sh: for a team stack, the one its platform stack names): a URL becomes
#   DATABRICKS_HOST; a workspace named by its resource id is given as
#   DATABRICKS_AZURE_RESOURCE_ID, unless DATABRICKS_HOST is set already.
#   The Pulumi CLI's: logged in, PULUMI_CONFIG_PASSPHRASE when the stack uses one.
#
# The latest event is read with `databricks api post /api/2.1/clusters/events`
# (one page of one event): `databricks clusters events` follows every next page,
# so with --limit 1 it would read the cluster's whole history one event a call.
#
# Exit status: 0 all clusters as expected, 1 a cluster failed or a command
# failed, 2 bad usage.
#
# Usage: scripts/ci/check-clusters.sh snapshot|verify STACK FILE
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/check-clusters.sh snapshot|verify STACK FILE'
if (($# != 3)) || [[ "$1" != snapshot && "$1" != verify ]]; then
  echo "$usage" >&2
  exit 2
fi
phase="$1"
stack="$2"
file="$3"
clusters_js="$ci_root/scripts/ci/clusters.js"
log() { printf 'check-clusters: %s\n' "$*"; }

# A duration in seconds (digits, optionally a fraction) as milliseconds.
millis() { # NAME VALUE
  if [[ ! "$2" =~ ^([0-9]+)(\.([0-9]+))?$ ]]; then
    echo "check-clusters: $1 must be a number of seconds, got '$2'" >&2
    exit 2
  fi
  local fraction="${BASH_REMATCH[3]}000"
  echo $((10#${BASH_REMATCH[1]} * 1000 + 10#${fraction:0:3}))
}
timeout_ms="$(millis DCS_CHECK_TIMEOUT_SECONDS "${DCS_CHECK_TIMEOUT_SECONDS:-1200}")"
millis DCS_CHECK_INTERVAL_SECONDS "${DCS_CHECK_INTERVAL_SECONDS:-15}" >/dev/null
interval="${DCS_CHECK_INTERVAL_SECONDS:-15}"
now_ms() { date +%s%3N; }

[[ -f "$ci_root/Pulumi.$stack.yaml" ]] || { echo "check-clusters: no stack file Pulumi.$stack.yaml" >&2; exit 2; }
header="# check-clusters snapshot of stack $stack: cluster id, output name, state, spec fingerprint"
if [[ "$phase" == verify ]]; then
  if [[ ! -f "$file" ]] || [[ "$(head -n 1 "$file")" != "$header" ]]; then
    echo "check-clusters: $file is not a snapshot of stack $stack (run: check-clusters.sh snapshot $stack $file before pulumi up)" >&2
    exit 2
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! pulumi stack output --json --stack "$stack" >"$tmp/outputs" 2>"$tmp/error"; then
  log "cannot read the outputs of stack $stack: $(tr '\n' ' ' <"$tmp/error")" >&2
  exit 1
fi
node "$clusters_js" ids <"$tmp/outputs" >"$tmp/ids"
mapfile -t current <"$tmp/ids"

# The workspace, for the Databricks CLI (a team stack's is its platform stack's).
use_stack_workspace "$stack" || exit 1

# read_cluster ID: sets state, fingerprint, code, message, cluster_name (state
# empty and error set when the CLI fails).
read_cluster() {
  state="" fingerprint="" code="" message="" cluster_name="" error=""
  if databricks clusters get "$1" -o json >"$tmp/cluster" 2>"$tmp/error"; then
    mapfile -t fields < <(node "$clusters_js" summary <"$tmp/cluster")
    state="${fields[0]:-}" fingerprint="${fields[1]:-}" code="${fields[2]:-}" message="${fields[3]:-}" cluster_name="${fields[4]:-}"
    [[ -n "$state" ]] || error="unreadable answer from databricks clusters get"
  else
    error="$(head -c 300 "$tmp/error" | tr '\n\t' '  ')"
  fi
}

# running_since ID MS: true when the cluster has a RUNNING event newer than MS
# (milliseconds since the epoch): it has (re)started since then.
running_since() {
  databricks api post /api/2.1/clusters/events --json "{\"cluster_id\":\"$1\",\"start_time\":$2,\"event_types\":[\"RUNNING\"],\"order\":\"DESC\",\"limit\":1}" >"$tmp/since" 2>/dev/null || return 1
  [[ "$(node "$clusters_js" event <"$tmp/since")" != "none recorded" ]]
}

latest_event() { # ID
  if databricks api post /api/2.1/clusters/events --json "{\"cluster_id\":\"$1\",\"order\":\"DESC\",\"limit\":1}" >"$tmp/events" 2>"$tmp/error"; then
    node "$clusters_js" event <"$tmp/events" || echo "unreadable"
  else
    echo "unavailable ($(head -c 200 "$tmp/error" | tr '\n\t' '  '))"
  fi
}

if [[ "$phase" == snapshot ]]; then
  printf '%s\n' "$header" >"$tmp/snapshot"
  printf '# taken %s\n' "$(now_ms)" >>"$tmp/snapshot"
  if ((${#current[@]} == 0)); then
    log "stack $stack has no clusters in its outputs (not deployed yet, or none declared); nothing to record"
  fi
  for line in "${current[@]}"; do
    IFS=$'\t' read -r id name <<<"$line"
    read_cluster "$id"
    if [[ -z "$state" ]]; then
      log "cannot read cluster $name ($id): $error" >&2
      exit 1
    fi
    printf '%s\t%s\t%s\t%s\n' "$id" "$name" "$state" "$fingerprint" >>"$tmp/snapshot"
    log "${cluster_name:-cluster} ($id, output $name) before pulumi up: $state, spec $fingerprint"
  done
  mkdir -p "$(dirname "$file")"
  cp "$tmp/snapshot" "$file"
  exit 0
fi

# verify
declare -A before_state=() before_fingerprint=() before_name=()
taken="$(sed -n 's/^# taken \([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)"
while IFS=$'\t' read -r id name state fingerprint; do
  [[ -n "$id" && "$id" != \#* ]] || continue
  before_state["$id"]="$state"
  before_fingerprint["$id"]="$fingerprint"
  before_name["$id"]="$name"
done <"$file"

declare -A now_present=()
for line in "${current[@]}"; do
  IFS=$'\t' read -r id _ <<<"$line"
  now_present["$id"]=1
done
for id in "${!before_state[@]}"; do
  [[ -n "${now_present[$id]:-}" ]] || log "cluster $id (output ${before_name[$id]}) is no longer in the stack's outputs (deleted or replaced by this deployment)"
done
if ((${#current[@]} == 0)); then
  log "stack $stack has no clusters in its outputs; nothing to check"
  exit 0
fi

deadline=$(($(now_ms) + timeout_ms))
failures=0
for line in "${current[@]}"; do
  IFS=$'\t' read -r id name <<<"$line"
  was="${before_state[$id]:-}"
  case "$was" in
    "") expect=running origin="new cluster" ;;
    RUNNING | PENDING | RESTARTING | RESIZING) expect=running origin="was $was" ;;
    *) expect=stopped origin="was $was" ;;
  esac
  through=()
  verdict="" note="" restart_seen=0
  while :; do
    read_cluster "$id"
    [[ -z "$state" || "$state" == RUNNING ]] || restart_seen=1
    if [[ "$expect" == running ]]; then
      case "$state" in
        RUNNING)
          # The provider returns right after its edit call, so a cluster that was running and
          # whose spec changed may not have begun its restart yet: RUNNING counts once a
          # restart was seen, here or as a RUNNING event since the snapshot.
          if [[ "$was" == RUNNING && -n "$fingerprint" && "$fingerprint" != "${before_fingerprint[$id]}" ]] &&
            ((restart_seen == 0)) && ! { [[ -n "$taken" ]] && running_since "$id" "$taken"; }; then
            :
          else
            verdict=ok
          fi
          ;;
        TERMINATED | ERROR)
          if [[ "$code" == INACTIVITY || "$code" == USER_REQUEST ]]; then
            verdict=ok note="; note: terminated by $code, not by this deployment"
          else
            verdict=fail
          fi
          ;;
      esac
    else
      case "$state" in
        TERMINATED) verdict=ok note=" (an edit does not start it)" ;;
        RUNNING | PENDING | RESTARTING | RESIZING) verdict=ok note="; note: started outside this deployment (an edit never starts a terminated cluster)" ;;
        ERROR) verdict=fail ;;
      esac
    fi
    [[ -z "$verdict" ]] || break
    if [[ -n "$state" ]] && [[ ${#through[@]} -eq 0 || "${through[-1]}" != "$state" ]]; then through+=("$state"); fi
    if (($(now_ms) >= deadline)); then
      verdict=timeout
      break
    fi
    sleep "$interval"
  done

  if [[ -z "$was" ]]; then
    spec="new"
  elif [[ -z "$fingerprint" ]]; then
    spec="spec unknown"
  elif [[ "$fingerprint" != "${before_fingerprint[$id]}" ]]; then
    spec="spec changed"
  else
    spec="spec unchanged"
  fi
  who="${cluster_name:-cluster} ($id, output $name)"
  path=""
  ((${#through[@]} == 0)) || path=" through ${through[*]}"
  [[ "$verdict" != timeout ]] || path="${path/ through / (seen: }${path:+)}"
  reason="termination reason: ${code:-none}${message:+ ($message)}"
  case "$verdict" in
    ok)
      log "ok    $who: $spec; $origin, now ${state}${path}${note}"
      ;;
    fail)
      failures=$((failures + 1))
      log "FAIL  $who: $spec; $origin, ended ${state}${path}; $reason; latest event: $(latest_event "$id")"
      ;;
    timeout)
      failures=$((failures + 1))
      log "FAIL  $who: $spec; $origin, still ${state:-unreadable${error:+ ($error)}}${path} after DCS_CHECK_TIMEOUT_SECONDS=${DCS_CHECK_TIMEOUT_SECONDS:-1200}; $reason; latest event: $(latest_event "$id")"
      ;;
  esac
done

if ((failures)); then
  log "$failures cluster(s) not as expected after pulumi up on stack $stack" >&2
  exit 1
fi
log "every cluster of stack $stack is as expected"
