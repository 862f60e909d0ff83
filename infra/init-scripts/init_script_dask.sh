#!/usr/bin/env bash
# Dask on a Databricks cluster: a scheduler on the driver, a worker on every
# other node. Databricks runs this script on each node at start; it returns at
# once and leaves the Dask processes running in the background, in sessions of
# their own, so they outlive it.
#
# Settings come from the environment (the cluster's Spark environment variables);
# defaults in brackets. README.md beside this script has the full contract.
#   DCS_DASK_SCHEDULER_PORT       scheduler port [8786]
#   DCS_DASK_DASHBOARD_PORT       dashboard port, on the driver [8787]
#   DCS_DASK_PYTHON               Python with dask and distributed [/databricks/python3/bin/python]
#   DCS_DASK_RUN_DIR              logs, pid files, worker scratch space [/databricks/dask]
#   DCS_DASK_WORKER_THREADS       threads of a worker [the node's cores]
#   DCS_DASK_WORKER_MEMORY        memory limit of a worker: auto, a size such as 8GiB,
#                                 or a fraction such as 0.5 [half the node's memory]
#   DCS_DASK_CONNECT_RETRIES      attempts to reach the scheduler before a worker gives up [60]
#   DCS_DASK_CONNECT_BACKOFF_MAX  longest pause between two attempts, seconds [5]
# Set by Databricks: DB_IS_DRIVER (TRUE on the driver), DB_DRIVER_IP, DB_CLUSTER_ID.
#
# Exit status: 0 when the scheduler or worker runs or has been started; 2 on a
# misconfiguration (the message names the variable to set); 1 when a worker
# gives up waiting for the scheduler (background part, see worker.log).
set -euo pipefail
# No job control: a background job then stays in our process group, so setsid
# turns it into a session leader in place and $! is the pid of the Dask process.
set +m

readonly SCRIPT_NAME=init_script_dask.sh
readonly SCRIPT_PATH="${BASH_SOURCE[0]}"
readonly PORT="${DCS_DASK_SCHEDULER_PORT:-8786}"
readonly DASHBOARD_PORT="${DCS_DASK_DASHBOARD_PORT:-8787}"
readonly PYTHON="${DCS_DASK_PYTHON:-/databricks/python3/bin/python}"
readonly RUN_DIR="${DCS_DASK_RUN_DIR:-/databricks/dask}"
readonly THREADS="${DCS_DASK_WORKER_THREADS:-}"
readonly MEMORY="${DCS_DASK_WORKER_MEMORY:-}"
readonly RETRIES="${DCS_DASK_CONNECT_RETRIES:-60}"
readonly BACKOFF_MAX="${DCS_DASK_CONNECT_BACKOFF_MAX:-5}"
readonly DRIVER_IP="${DB_DRIVER_IP:-}"
readonly CLUSTER_ID="${DB_CLUSTER_ID:-unknown}"
# First pause between two attempts to reach the scheduler; it doubles up to the maximum.
readonly FIRST_PAUSE_MS=250
case "${DB_IS_DRIVER:-}" in
  TRUE | true | True) ROLE=driver ;;
  *) ROLE=worker ;;
esac
readonly ROLE
LOG_FILE=""

usage() {
  sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$SCRIPT_PATH"
}

# One line per step: to stdout (Databricks keeps it with the init script logs)
# and, once the run dir is known, to <run dir>/init.log.
log() {
  local line
  printf -v line '%(%Y-%m-%dT%H:%M:%S%z)T dcs-dask %s: %s' -1 "$ROLE" "$*"
  printf '%s\n' "$line"
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE"; fi
}

# fail STATUS MESSAGE: the message on stderr (and in init.log), then exit.
fail() {
  local status="$1" line
  shift
  printf -v line '%(%Y-%m-%dT%H:%M:%S%z)T dcs-dask %s: error: %s' -1 "$ROLE" "$*"
  printf '%s\n' "$line" >&2
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE"; fi
  exit "$status"
}
misconfigured() { fail 2 "$@"; }

is_port() { [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] && (("$1" <= 65535)); }
is_positive() { [[ "$1" =~ ^[1-9][0-9]{0,5}$ ]]; }

# True once something accepts TCP connections at host:port (gives up after 2 s).
answers() {
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' answers "$1" "$2" 2>/dev/null
}

# Prints the pid a pid file names if that process is alive and is one of ours:
# its command line names this run dir (a recycled pid would not).
running_pid() {
  local pid cmdline
  [[ -s "$1" ]] || return 1
  read -r pid <"$1" || return 1
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$RUN_DIR/"* ]] || return 1
  printf '%s' "$pid"
}

validate() {
  is_port "$PORT" || misconfigured "DCS_DASK_SCHEDULER_PORT must be a port number (1-65535), got '$PORT'"
  is_port "$DASHBOARD_PORT" || misconfigured "DCS_DASK_DASHBOARD_PORT must be a port number (1-65535), got '$DASHBOARD_PORT'"
  [[ "$PORT" != "$DASHBOARD_PORT" ]] \
    || misconfigured "DCS_DASK_DASHBOARD_PORT must differ from DCS_DASK_SCHEDULER_PORT (both are $PORT)"
  is_positive "$RETRIES" || misconfigured "DCS_DASK_CONNECT_RETRIES must be a whole number of at least 1, got '$RETRIES'"
  is_positive "$BACKOFF_MAX" \
    || misconfigured "DCS_DASK_CONNECT_BACKOFF_MAX must be a whole number of seconds, at least 1, got '$BACKOFF_MAX'"
  [[ -z "$THREADS" ]] || is_positive "$THREADS" \
    || misconfigured "DCS_DASK_WORKER_THREADS must be a whole number of at least 1 (or unset for the node's cores), got '$THREADS'"
  [[ -z "$MEMORY" || "$MEMORY" == auto || "$MEMORY" =~ ^[0-9]+(\.[0-9]+)?\ *([kKMGT]i?B|B)?$ ]] \
    || misconfigured "DCS_DASK_WORKER_MEMORY must be auto, a size such as 8GiB or a fraction such as 0.5 (or unset), got '$MEMORY'"
  if [[ "$ROLE" == worker && -z "$DRIVER_IP" ]]; then
    misconfigured "DB_DRIVER_IP is not set: a worker needs the driver's address (Databricks sets it; on the driver set DB_IS_DRIVER=TRUE)"
  fi
  [[ "$DRIVER_IP" =~ ^[A-Za-z0-9.:-]*$ ]] || misconfigured "DB_DRIVER_IP must be an IP address or host name, got '$DRIVER_IP'"
  [[ "$RUN_DIR" == /* ]] || misconfigured "DCS_DASK_RUN_DIR must be an absolute path, got '$RUN_DIR'"
  if ! mkdir -p "$RUN_DIR" 2>/dev/null || [[ ! -w "$RUN_DIR" ]]; then
    misconfigured "DCS_DASK_RUN_DIR: cannot write to '$RUN_DIR'; set DCS_DASK_RUN_DIR to a writable directory"
  fi
  LOG_FILE="$RUN_DIR/init.log"
  [[ -f "$PYTHON" && -x "$PYTHON" ]] \
    || misconfigured "DCS_DASK_PYTHON: '$PYTHON' is not an executable file; set DCS_DASK_PYTHON to the Python that has dask and distributed"
  # Locating the package is fast (no import), and catches the wrong interpreter now rather than in a background log.
  "$PYTHON" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("distributed") is None)' 2>/dev/null \
    || misconfigured "DCS_DASK_PYTHON: '$PYTHON' cannot import distributed; set DCS_DASK_PYTHON to the Python that has dask and distributed"
}

# Fails when something already listens on a port we are about to serve on.
port_free() {
  if answers 127.0.0.1 "$1"; then
    misconfigured "port $1 is already in use on this node by a process not started from $RUN_DIR; set $2 to a free port"
  fi
}

start_scheduler() {
  local pid_file="$RUN_DIR/scheduler.pid" pid
  if pid="$(running_pid "$pid_file")"; then
    log "scheduler already running (pid $pid); nothing to start"
    return 0
  fi
  port_free "$PORT" DCS_DASK_SCHEDULER_PORT
  port_free "$DASHBOARD_PORT" DCS_DASK_DASHBOARD_PORT
  log "starting the scheduler on port $PORT with the dashboard on port $DASHBOARD_PORT (log $RUN_DIR/scheduler.log)"
  rm -f "$RUN_DIR/scheduler.json"
  setsid nohup "$PYTHON" -m distributed.cli.dask_scheduler \
    --port "$PORT" --dashboard-address ":$DASHBOARD_PORT" --scheduler-file "$RUN_DIR/scheduler.json" \
    </dev/null >>"$RUN_DIR/scheduler.log" 2>&1 9>&- &
  printf '%s\n' "$!" >"$pid_file"
  log "scheduler started (pid $!); clients connect to tcp://${DRIVER_IP:-<driver address>}:$PORT or use $RUN_DIR/scheduler.json"
}

start_worker() {
  local pid_file="$RUN_DIR/worker.pid" pid launcher="$RUN_DIR/$SCRIPT_NAME"
  if pid="$(running_pid "$pid_file")"; then
    log "worker already running or waiting for the scheduler (pid $pid); nothing to start"
    return 0
  fi
  # The background part runs from a copy in the run dir: the original may be
  # removed once this script has returned. A new file, never one rewritten in place.
  cp -- "$SCRIPT_PATH" "$launcher.new"
  mv -f -- "$launcher.new" "$launcher"
  log "starting the worker in the background: it waits for the scheduler at tcp://$DRIVER_IP:$PORT, then joins (log $RUN_DIR/worker.log)"
  setsid nohup bash "$launcher" --wait-then-join </dev/null >>"$RUN_DIR/worker.log" 2>&1 9>&- &
  printf '%s\n' "$!" >"$pid_file"
  log "worker launcher started (pid $!)"
}

# The node's memory in bytes: MemTotal, or the container's cgroup limit if lower.
node_memory_bytes() {
  local key value _unit bytes=0 limit
  while read -r key value _unit; do
    if [[ "$key" == MemTotal: ]]; then
      bytes=$((value * 1024))
      break
    fi
  done </proc/meminfo
  for limit in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    if [[ -r "$limit" ]]; then
      read -r value <"$limit" || true
      if [[ "$value" =~ ^[0-9]+$ ]] && ((value > 0 && (bytes == 0 || value < bytes))); then bytes="$value"; fi
    fi
  done
  printf '%s' "$bytes"
}

# Background part of a worker: waits for the scheduler with bounded retries and
# exponential backoff, then becomes the Dask worker (same pid, same pid file).
wait_then_join() {
  local attempt=1 pause_ms="$FIRST_PAUSE_MS" cap_ms=$((BACKOFF_MAX * 1000)) pause threads memory
  log "cluster $CLUSTER_ID: waiting for the scheduler at tcp://$DRIVER_IP:$PORT (at most $RETRIES attempts)"
  until answers "$DRIVER_IP" "$PORT"; do
    if ((attempt >= RETRIES)); then
      fail 1 "the scheduler at tcp://$DRIVER_IP:$PORT did not answer after $RETRIES attempts; check the driver's $RUN_DIR/scheduler.log, or raise DCS_DASK_CONNECT_RETRIES"
    fi
    printf -v pause '%d.%03d' $((pause_ms / 1000)) $((pause_ms % 1000))
    log "scheduler at tcp://$DRIVER_IP:$PORT not answering yet (attempt $attempt of $RETRIES); next attempt in ${pause}s"
    sleep "$pause"
    attempt=$((attempt + 1))
    pause_ms=$((pause_ms * 2 < cap_ms ? pause_ms * 2 : cap_ms))
  done
  threads="${THREADS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}"
  memory="${MEMORY:-$(($(node_memory_bytes) / 2 / 1048576))MiB}"
  mkdir -p "$RUN_DIR/worker-space"
  log "scheduler answers (attempt $attempt); joining as a worker with $threads threads and memory limit $memory"
  exec "$PYTHON" -m distributed.cli.dask_worker "tcp://$DRIVER_IP:$PORT" \
    --nthreads "$threads" --memory-limit "$memory" --local-directory "$RUN_DIR/worker-space" --no-dashboard
}

main() {
  case "${1:-}" in
    -h | --help)
      usage
      return 0
      ;;
    --wait-then-join)
      validate
      wait_then_join # never returns: becomes the worker or fails
      ;;
    "") ;;
    *) misconfigured "unknown argument '$1'; this script takes none (see --help)" ;;
  esac
  validate
  # One run at a time per run dir: two runs at once still start one process.
  # The lock descriptor (9) is closed in the processes we start.
  exec 9>"$RUN_DIR/.lock"
  flock -w 10 9 || fail 1 "another run holds $RUN_DIR/.lock for more than 10 s"
  log "cluster $CLUSTER_ID: configuring Dask on this $ROLE (run dir $RUN_DIR, python $PYTHON)"
  if [[ "$ROLE" == driver ]]; then start_scheduler; else start_worker; fi
}

main "$@"
