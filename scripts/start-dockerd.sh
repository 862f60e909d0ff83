#!/usr/bin/env bash
# Starts a Docker engine for the launch rehearsal (npm run rehearse) on a
# machine without a service manager running one (CI, a container), unless one
# already answers. Needs root and Debian's docker.io (dockerd).
#
# The engine is started with --ip-forward=false: Docker then leaves the
# kernel's IP forwarding and the iptables FORWARD policy as they are (it sets
# the policy to DROP only when it switches net.ipv4.ip_forward on itself:
# setupIPForwarding of moby's bridge driver, as moby's own
# integration/network/bridge/iptablesdoc "iptables for a new Daemon" says;
# checked here: the policy stays ACCEPT), so tests that wire
# network namespaces to bridges of their own keep working. The rehearsal needs
# no forwarding: its containers talk over one bridge, and the dashboard's port
# is published on 127.0.0.1 by Docker's userland proxy. Containers get no
# route to the outside, which the rehearsal does not want either.
#
# If something else started Docker meanwhile (installing docker.io starts it
# where a service manager runs) and the FORWARD policy is no longer what it
# was, it is put back: the policy DCS_FORWARD_POLICY names (what the caller saw
# before installing Docker), else the one found when this script began.
#
# Usage: scripts/start-dockerd.sh            (log: $DCS_DOCKERD_LOG, default /var/log/dcs-dockerd.log)
set -euo pipefail

log() { printf 'start-dockerd: %s\n' "$*" >&2; }
docker="${DOCKER:-docker}"
answers() { "$docker" info >/dev/null 2>&1; }

forward_policy() { iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p'; }
before="${DCS_FORWARD_POLICY:-$(forward_policy || true)}"
keep_forward_policy() {
  local now
  now="$(forward_policy || true)"
  if [[ -n "$before" && -n "$now" && "$now" != "$before" ]]; then
    log "the iptables FORWARD policy is $now, was $before before Docker started; setting it back to $before"
    iptables -P FORWARD "$before"
  fi
}

if answers; then
  log "a Docker engine already answers; nothing started"
  keep_forward_policy
  exit 0
fi
((EUID == 0)) || { log "starting dockerd needs root"; exit 1; }
command -v dockerd >/dev/null || { log "dockerd is missing: apt-get install docker.io"; exit 1; }

logfile="${DCS_DOCKERD_LOG:-/var/log/dcs-dockerd.log}"
log "starting dockerd --ip-forward=false (log $logfile)"
setsid nohup dockerd --ip-forward=false </dev/null >>"$logfile" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  answers && break
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 30 "$logfile" >&2
    log "dockerd exited (its log is above)"
    exit 1
  fi
  sleep 0.25
done
if ! answers; then
  tail -n 30 "$logfile" >&2
  log "dockerd (pid $pid) does not answer after 30 s (its log is above)"
  exit 1
fi
keep_forward_policy
log "dockerd (pid $pid) answers"
