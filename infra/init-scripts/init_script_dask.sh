#!/usr/bin/env bash
# Dask on a Databricks cluster: a scheduler on the driver, one worker on every
# executor node. Databricks runs this script on every node at start; it returns
# at once and leaves the Dask processes running in the background.
#
# Settings (the cluster's Spark environment variables carry them; defaults in brackets):
#   DCS_DASK_SCHEDULER_PORT       scheduler port [8786]
#   DCS_DASK_DASHBOARD_PORT       dashboard port on the driver [8787]
#   DCS_DASK_PYTHON               interpreter with dask/distributed [/databricks/python3/bin/python]
#   DCS_DASK_RUN_DIR              logs, pid files, worker spill space [/databricks/dask]
#   DCS_DASK_WORKER_THREADS       threads per worker [the node's cores]
#   DCS_DASK_WORKER_MEMORY        worker memory limit, "auto" or e.g. 8GiB [half the node's memory]
#   DCS_DASK_CONNECT_RETRIES      attempts to reach the scheduler before a worker gives up [60]
#   DCS_DASK_CONNECT_BACKOFF_MAX  longest pause between attempts, seconds [5]
# Set by Databricks: DB_IS_DRIVER (TRUE on the driver), DB_DRIVER_IP, DB_CLUSTER_ID.
set -euo pipefail

readonly SCRIPT_PATH="${BASH_SOURCE[0]}"
PORT="${DCS_DASK_SCHEDULER_PORT:-8786}"
DASHBOARD_PORT="${DCS_DASK_DASHBOARD_PORT:-8787}"
PYTHON="${DCS_DASK_PYTHON:-/databricks/python3/bin/python}"
RUN_DIR="${DCS_DASK_RUN_DIR:-/databricks/dask}"
THREADS="${DCS_DASK_WORKER_THREADS:-}"
MEMORY="${DCS_DASK_WORKER_MEMORY:-}"
RETRIES="${DCS_DASK_CONNECT_RETRIES:-60}"
BACKOFF_MAX="${DCS_DASK_CONNECT_BACKOFF_MAX:-5}"
if [[ "${DB_IS_DRIVER:-}" == "TRUE" ]]; then ROLE=driver; else ROLE=worker; fi
LOG_FILE=""

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) dcs-dask ${ROLE}: $*"
  printf '%s\n' "$line"
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE"; fi
}

die() {
  local line="dcs-dask ${ROLE}: error: $*"
  printf '%s\n' "$line" >&2
  if [[ -n "$LOG_FILE" ]]; then printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line" >>"$LOG_FILE"; fi
  exit 1
}

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1 && "$1" <= 65535)); }
is_count() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1)); }

# A pid file names a live process of ours.
alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(<"$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# True once something accepts TCP connections at host:port.
answers() {
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell, on purpose
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

validate() {
  is_port "$PORT" || die "DCS_DASK_SCHEDULER_PORT must be a port number (1-65535), got '$PORT'"
  is_port "$DASHBOARD_PORT" || die "DCS_DASK_DASHBOARD_PORT must be a port number (1-65535), got '$DASHBOARD_PORT'"
  [[ "$PORT" != "$DASHBOARD_PORT" ]] || die "DCS_DASK_DASHBOARD_PORT must differ from DCS_DASK_SCHEDULER_PORT ($PORT)"
  is_count "$RETRIES" || die "DCS_DASK_CONNECT_RETRIES must be a whole number of at least 1, got '$RETRIES'"
  is_count "$BACKOFF_MAX" || die "DCS_DASK_CONNECT_BACKOFF_MAX must be a whole number of seconds, at least 1, got '$BACKOFF_MAX'"
  [[ -z "$THREADS" ]] || is_count "$THREADS" || die "DCS_DASK_WORKER_THREADS must be a whole number of at least 1, got '$THREADS'"
  [[ -z "$MEMORY" || "$MEMORY" == auto || "$MEMORY" =~ ^[0-9]+(\.[0-9]+)?\ ?(B|[KMGT]i?B)?$ ]] \
    || die "DCS_DASK_WORKER_MEMORY must be 'auto' or a size such as 8GiB, got '$MEMORY'"
  [[ -x "$PYTHON" ]] || die "DCS_DASK_PYTHON: '$PYTHON' is not an executable interpreter; set DCS_DASK_PYTHON to the Python that has dask and distributed"
  if [[ "$ROLE" == worker && -z "${DB_DRIVER_IP:-}" ]]; then
    die "DB_DRIVER_IP is not set: a worker needs the driver's address (Databricks sets it; set DB_IS_DRIVER=TRUE on the driver)"
  fi
  if ! mkdir -p "$RUN_DIR" 2>/dev/null || [[ ! -w "$RUN_DIR" ]]; then
    die "DCS_DASK_RUN_DIR: cannot write to '$RUN_DIR'; set DCS_DASK_RUN_DIR to a writable directory"
  fi
  LOG_FILE="$RUN_DIR/init.log"
}

# Memory limit for a worker: the setting, or half the node's memory in bytes.
worker_memory() {
  if [[ -n "$MEMORY" ]]; then
    printf '%s' "$MEMORY"
  else
    awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 / 2 }' /proc/meminfo
  fi
}

start_scheduler() {
  local pid_file="$RUN_DIR/scheduler.pid"
  if alive "$pid_file"; then
    log "scheduler already running (pid $(<"$pid_file")); nothing to do"
    return 0
  fi
  log "starting scheduler on port $PORT, dashboard on port $DASHBOARD_PORT"
  setsid nohup "$PYTHON" -m distributed.cli.dask_scheduler \
    --port "$PORT" --dashboard-address ":$DASHBOARD_PORT" \
    >>"$RUN_DIR/scheduler.log" 2>&1 </dev/null &
  echo "$!" >"$pid_file"
  log "scheduler started (pid $!, log $RUN_DIR/scheduler.log)"
}

start_worker() {
  local pid_file="$RUN_DIR/worker.pid"
  if alive "$pid_file"; then
    log "worker already running or waiting for the scheduler (pid $(<"$pid_file")); nothing to do"
    return 0
  fi
  log "starting a worker in the background; it joins tcp://$DB_DRIVER_IP:$PORT once the scheduler answers"
  setsid nohup bash "$SCRIPT_PATH" --join >>"$RUN_DIR/worker.log" 2>&1 </dev/null &
  echo "$!" >"$pid_file"
  log "worker launcher started (pid $!, log $RUN_DIR/worker.log)"
}

# Runs in the background (the script re-invoked with --join): waits for the
# scheduler with bounded retries and exponential backoff, then becomes the worker.
join_scheduler() {
  local attempt=1 pause=1 threads memory
  until answers "$DB_DRIVER_IP" "$PORT"; do
    if ((attempt >= RETRIES)); then
      die "scheduler tcp://$DB_DRIVER_IP:$PORT did not answer after $RETRIES attempts; check the driver's $RUN_DIR/scheduler.log or raise DCS_DASK_CONNECT_RETRIES"
    fi
    log "scheduler tcp://$DB_DRIVER_IP:$PORT not answering yet (attempt $attempt of $RETRIES); retrying in ${pause}s"
    sleep "$pause"
    attempt=$((attempt + 1))
    pause=$((pause * 2 > BACKOFF_MAX ? BACKOFF_MAX : pause * 2))
  done
  threads="${THREADS:-$(nproc)}"
  memory="$(worker_memory)"
  mkdir -p "$RUN_DIR/worker-space"
  log "scheduler answers; worker joins with $threads threads and memory limit $memory"
  exec "$PYTHON" -m distributed.cli.dask_worker "tcp://$DB_DRIVER_IP:$PORT" \
    --nthreads "$threads" --memory-limit "$memory" \
    --local-directory "$RUN_DIR/worker-space" --no-dashboard
}

main() {
  validate
  if [[ "${1:-}" == "--join" ]]; then
    join_scheduler
  elif [[ "$ROLE" == driver ]]; then
    start_scheduler
  else
    start_worker
  fi
}

main "$@"
