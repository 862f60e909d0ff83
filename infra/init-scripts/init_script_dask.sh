#!/usr/bin/env bash
# Dask on a Databricks cluster: a scheduler on the driver, a worker on every
# other node, each run by a supervisor that starts it again whenever it exits.
# Databricks runs this script on each node at start; it returns at once and
# leaves the supervisor running in the background, in a session of its own.
#
# Settings come from the environment (the cluster's Spark environment variables);
# defaults in brackets. README.md beside this script has the full contract.
#   DCS_DASK_SCHEDULER_PORT       scheduler port [8786]
#   DCS_DASK_DASHBOARD_PORT       dashboard port, on the driver [8087]
#   DCS_DASK_PYTHON               Python with dask and distributed [/databricks/python3/bin/python]
#   DCS_DASK_RUN_DIR              pid files, scheduler file, worker spill space
#                                 [/local_disk0/dask if /local_disk0 exists, else /databricks/dask]
#   DCS_DASK_LOG_DIR              the Dask logs [on Databricks, where cluster log delivery
#                                 collects them: /databricks/driver/logs on the driver,
#                                 /databricks/spark/work/dask-<node address> on a worker;
#                                 elsewhere <run dir>/logs]
#   DCS_DASK_NODE_FRACTION        share of the node's cores and memory a worker takes when
#                                 the two settings below are unset [0.5]
#   DCS_DASK_WORKER_THREADS       threads of a worker [cores x fraction, at least 1]
#   DCS_DASK_WORKER_MEMORY        memory limit of a worker: auto, a size such as 8GiB,
#                                 or a fraction such as 0.5 [memory x fraction]
#   DCS_DASK_CONNECT_RETRIES      attempts to reach the scheduler after which a worker's log
#                                 says the scheduler is overdue; it keeps trying [60]
#   DCS_DASK_CONNECT_BACKOFF_MAX  longest pause between two attempts or restarts, seconds [5]
# Set by the stack on some clusters (unset: a CPU image on a cluster with workers):
#   DCS_SINGLE_NODE               true on a single-node cluster: the driver also runs a worker,
#                                 connected to its own scheduler and supervised the same way
#   DCS_CUDA_VERSION              the CUDA release of a GPU image, e.g. 12.4.1: a node that runs a
#                                 worker and has GPUs runs `dask cuda worker` (one worker per GPU)
#   DCS_CUDA_MIN_DRIVER           the lowest NVIDIA driver that CUDA release needs, e.g. 550.54.14:
#                                 an older driver on the node fails the script
# Set by Databricks: DB_IS_DRIVER (TRUE on the driver), DB_DRIVER_IP, DB_CLUSTER_ID,
# DB_CONTAINER_IP.
#
# Usage: init_script_dask.sh          start this node's supervisor (nothing if it runs)
#        init_script_dask.sh --stop   stop this node's supervisor and its Dask process
#        init_script_dask.sh --help   this text
# Exit status: 0 when the supervisor runs, has been started or has been stopped;
# 2 on a misconfiguration (the message names the variable or setting to change),
# an NVIDIA driver older than DCS_CUDA_MIN_DRIVER included; 1 when another run
# holds the run dir's lock for more than 10 s, or --stop failed.
set -euo pipefail
# No job control: a background job then stays in our process group, so setsid
# turns it into a session leader in place and $! is the supervisor's pid.
set +m

readonly SCRIPT_NAME=init_script_dask.sh
readonly SCRIPT_PATH="${BASH_SOURCE[0]}"
readonly PORT="${DCS_DASK_SCHEDULER_PORT:-8786}"
readonly DASHBOARD_PORT="${DCS_DASK_DASHBOARD_PORT:-8087}"
readonly PYTHON="${DCS_DASK_PYTHON:-/databricks/python3/bin/python}"
readonly THREADS="${DCS_DASK_WORKER_THREADS:-}"
readonly MEMORY="${DCS_DASK_WORKER_MEMORY:-}"
readonly FRACTION="${DCS_DASK_NODE_FRACTION:-0.5}"
readonly RETRIES="${DCS_DASK_CONNECT_RETRIES:-60}"
readonly BACKOFF_MAX="${DCS_DASK_CONNECT_BACKOFF_MAX:-5}"
readonly DRIVER_IP="${DB_DRIVER_IP:-}"
readonly CLUSTER_ID="${DB_CLUSTER_ID:-unknown}"
readonly CUDA_VERSION="${DCS_CUDA_VERSION:-}"
readonly CUDA_MIN_DRIVER="${DCS_CUDA_MIN_DRIVER:-}"
readonly SINGLE_NODE_SETTING="${DCS_SINGLE_NODE:-}"
# First pause between two attempts to reach the scheduler; it doubles up to the maximum.
readonly FIRST_PAUSE_MS=250
# First pause before a process that exited is started again; it doubles (up to the
# maximum) while the process keeps exiting within QUICK_EXIT_S of its start.
readonly FIRST_RESTART_PAUSE_MS=1000
readonly QUICK_EXIT_S=60
# How long a Dask process gets to end after SIGTERM before it is killed.
readonly STOP_GRACE_S=20
# A Dask log larger than this is moved to <name>.1 before the process starts again.
readonly LOG_ROTATE_BYTES=$((64 * 1024 * 1024))
case "${DB_IS_DRIVER:-}" in
  TRUE | true | True) ROLE=driver ;;
  *) ROLE=worker ;;
esac
readonly ROLE
# The role in log lines. --stop, which may run without DB_IS_DRIVER, takes it from the run dir.
LABEL="$ROLE"
# A single-node cluster (Databricks "single node": a driver and no workers) runs a
# worker on the driver too, beside the scheduler.
case "$SINGLE_NODE_SETTING" in
  TRUE | true | True) SINGLE_NODE=1 ;;
  *) SINGLE_NODE=0 ;;
esac
readonly SINGLE_NODE
# What a supervisor runs: the driver's scheduler, or a worker. A single-node driver has
# two supervisors, the second one run as `--supervise-worker`.
if [[ "$ROLE" == driver && "${1:-}" != --supervise-worker ]]; then KIND=scheduler; else KIND=worker; fi
readonly KIND
# Where a worker finds the scheduler: the driver, or on a single-node driver itself.
if [[ "$ROLE" == driver ]]; then SCHEDULER_HOST="${DRIVER_IP:-127.0.0.1}"; else SCHEDULER_HOST="$DRIVER_IP"; fi
readonly SCHEDULER_HOST
# The GPUs a worker runs on, as CUDA_VISIBLE_DEVICES lists them (0,1); empty for
# the CPU worker. Decided once by plan_gpus and handed to the worker's supervisor.
CUDA_DEVICES=""

# Scratch on the disk Databricks grows (local_disk0), when there is one.
if [[ -n "${DCS_DASK_RUN_DIR:-}" ]]; then
  RUN_DIR="$DCS_DASK_RUN_DIR"
elif [[ -d /local_disk0 ]]; then
  RUN_DIR=/local_disk0/dask
else
  RUN_DIR=/databricks/dask
fi
readonly RUN_DIR
# Logs where cluster log delivery picks them up (README.md, "Logs that survive the cluster").
if [[ -n "${DCS_DASK_LOG_DIR:-}" ]]; then
  LOG_DIR="$DCS_DASK_LOG_DIR"
elif [[ -d /databricks && "$ROLE" == driver ]]; then
  LOG_DIR=/databricks/driver/logs
elif [[ -d /databricks ]]; then
  node_name="${DB_CONTAINER_IP:-${HOSTNAME:-$(uname -n)}}"
  LOG_DIR="/databricks/spark/work/dask-${node_name//[^A-Za-z0-9._-]/_}"
else
  LOG_DIR="$RUN_DIR/logs"
fi
readonly LOG_DIR
readonly SUPERVISOR_PID_FILE="$RUN_DIR/supervisor.pid"
# The supervisor of a single-node driver's worker (supervisor.pid is its scheduler's).
readonly WORKER_SUPERVISOR_PID_FILE="$RUN_DIR/worker-supervisor.pid"
readonly CHILD_PID_FILE="$RUN_DIR/$KIND.pid"
readonly INIT_LOG="$LOG_DIR/dask-init.log"
readonly DASK_LOG="$LOG_DIR/dask-$KIND.log"
# Steps go to stdout and, once the log dir is known, to dask-init.log. The
# supervisor's stdout is that file already, so it leaves LOG_FILE empty.
LOG_FILE=""

usage() {
  sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$SCRIPT_PATH"
}

# One line per step: to stdout (Databricks keeps it with the init script logs)
# and, once the log dir is known, to dask-init.log.
log() {
  local line
  printf -v line '%(%Y-%m-%dT%H:%M:%S%z)T dcs-dask %s: %s' -1 "$LABEL" "$*"
  printf '%s\n' "$line"
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE"; fi
}

# fail STATUS MESSAGE: the message on stderr (and in dask-init.log), then exit.
fail() {
  local status="$1" line
  shift
  printf -v line '%(%Y-%m-%dT%H:%M:%S%z)T dcs-dask %s: error: %s' -1 "$LABEL" "$*"
  printf '%s\n' "$line" >&2
  if [[ -n "$LOG_FILE" ]]; then printf '%s\n' "$line" >>"$LOG_FILE"; fi
  exit "$status"
}
misconfigured() { fail 2 "$@"; }

is_port() { [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] && (("$1" <= 65535)); }
is_positive() { [[ "$1" =~ ^[1-9][0-9]{0,5}$ ]]; }

# A fraction in thousandths (0.5 -> 500); fails unless 0 < fraction <= 1.
# fraction_millis FRACTION (the node fraction when none is given).
fraction_millis() {
  local whole digits fraction="${1:-$FRACTION}"
  [[ "$fraction" =~ ^([01]?)(\.([0-9]+))?$ && -n "${BASH_REMATCH[1]}${BASH_REMATCH[3]}" ]] || return 1
  whole="${BASH_REMATCH[1]:-0}"
  digits="${BASH_REMATCH[3]}000"
  local millis=$((10#$whole * 1000 + 10#${digits:0:3}))
  ((millis > 0 && millis <= 1000)) || return 1
  printf '%s' "$millis"
}

# "0.250" from 250: seconds with milliseconds, for sleep and the log.
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# True once something accepts TCP connections at host:port (gives up after 2 s).
answers() {
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' answers "$1" "$2" 2>/dev/null
}

# True while process $1 exists and has not exited (a zombie has).
alive() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line="${line##*) }"
  [[ "${line%% *}" != Z ]]
}

# Prints the pid a pid file names if that process is alive and is one of ours:
# its command line names this run dir (a recycled pid would not).
running_pid() {
  local pid cmdline
  [[ -s "$1" ]] || return 1
  read -r pid <"$1" || return 1
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] && alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$RUN_DIR/"* ]] || return 1
  printf '%s' "$pid"
}

# Sets MEMBERS to the live processes of process group $1 other than this shell.
# Runs in this shell (no subshell or pipe), so it never lists a helper of its own.
MEMBERS=()
group_members() {
  local stat pid line state _ppid pgid
  MEMBERS=()
  for stat in /proc/[0-9]*/stat; do
    pid="${stat#/proc/}"
    pid="${pid%/stat}"
    [[ "$pid" != "$$" ]] || continue
    read -r line 2>/dev/null <"$stat" || continue
    # The command name is in parentheses and may hold spaces: the fields we want follow its last ')'.
    read -r state _ppid pgid _ <<<"${line##*) }"
    if [[ "$pgid" == "$1" && "$state" != Z ]]; then MEMBERS+=("$pid"); fi
  done
}

# Waits up to $2 seconds for process $1 to end; false if it is still there.
ended_within() {
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# True when dotted version $1 is older than $2, field by field as numbers
# (550.54.9 < 550.54.14 < 550.100.1); a missing field counts as 0.
version_older() {
  local -a a b
  local i x y
  IFS=. read -ra a <<<"$1"
  IFS=. read -ra b <<<"$2"
  for ((i = 0; i < (${#a[@]} > ${#b[@]} ? ${#a[@]} : ${#b[@]}); i++)); do
    x=$((10#${a[i]:-0}))
    y=$((10#${b[i]:-0}))
    ((x == y)) || return $((x > y))
  done
  return 1
}

is_version() { [[ "$1" =~ ^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$ ]]; }

validate() {
  is_port "$PORT" || misconfigured "DCS_DASK_SCHEDULER_PORT must be a port number (1-65535), got '$PORT'"
  is_port "$DASHBOARD_PORT" || misconfigured "DCS_DASK_DASHBOARD_PORT must be a port number (1-65535), got '$DASHBOARD_PORT'"
  [[ "$PORT" != "$DASHBOARD_PORT" ]] \
    || misconfigured "DCS_DASK_DASHBOARD_PORT must differ from DCS_DASK_SCHEDULER_PORT (both are $PORT)"
  is_positive "$RETRIES" || misconfigured "DCS_DASK_CONNECT_RETRIES must be a whole number of at least 1, got '$RETRIES'"
  is_positive "$BACKOFF_MAX" \
    || misconfigured "DCS_DASK_CONNECT_BACKOFF_MAX must be a whole number of seconds, at least 1, got '$BACKOFF_MAX'"
  fraction_millis >/dev/null \
    || misconfigured "DCS_DASK_NODE_FRACTION must be a number above 0 and at most 1 such as 0.5 (or unset), got '$FRACTION'"
  [[ -z "$THREADS" ]] || is_positive "$THREADS" \
    || misconfigured "DCS_DASK_WORKER_THREADS must be a whole number of at least 1 (or unset for the node's cores x DCS_DASK_NODE_FRACTION), got '$THREADS'"
  [[ -z "$MEMORY" || "$MEMORY" == auto || "$MEMORY" =~ ^[0-9]+(\.[0-9]+)?\ *([kKMGT]i?B|B)?$ ]] \
    || misconfigured "DCS_DASK_WORKER_MEMORY must be auto, a size such as 8GiB or a fraction such as 0.5 (or unset), got '$MEMORY'"
  case "$SINGLE_NODE_SETTING" in
    "" | TRUE | true | True | FALSE | false | False) ;;
    *) misconfigured "DCS_SINGLE_NODE must be true (a single-node cluster: the driver runs a worker too), false or unset, got '$SINGLE_NODE_SETTING'" ;;
  esac
  [[ -z "$CUDA_VERSION" ]] || is_version "$CUDA_VERSION" \
    || misconfigured "DCS_CUDA_VERSION must be a CUDA release such as 12.4.1 (or unset for a CPU image), got '$CUDA_VERSION'"
  [[ -z "$CUDA_MIN_DRIVER" ]] || is_version "$CUDA_MIN_DRIVER" \
    || misconfigured "DCS_CUDA_MIN_DRIVER must be an NVIDIA driver version such as 550.54.14 (or unset), got '$CUDA_MIN_DRIVER'"
  if [[ "$ROLE" == worker && -z "$DRIVER_IP" ]]; then
    misconfigured "DB_DRIVER_IP is not set: a worker needs the driver's address (Databricks sets it; on the driver set DB_IS_DRIVER=TRUE)"
  fi
  [[ "$DRIVER_IP" =~ ^[A-Za-z0-9.:-]*$ ]] || misconfigured "DB_DRIVER_IP must be an IP address or host name, got '$DRIVER_IP'"
  [[ "$RUN_DIR" == /* ]] || misconfigured "DCS_DASK_RUN_DIR must be an absolute path, got '$RUN_DIR'"
  [[ "$LOG_DIR" == /* ]] || misconfigured "DCS_DASK_LOG_DIR must be an absolute path, got '$LOG_DIR'"
  if ! mkdir -p "$RUN_DIR" 2>/dev/null || [[ ! -w "$RUN_DIR" ]]; then
    misconfigured "DCS_DASK_RUN_DIR: cannot write to '$RUN_DIR'; set DCS_DASK_RUN_DIR to a writable directory"
  fi
  if ! mkdir -p "$LOG_DIR" 2>/dev/null || [[ ! -w "$LOG_DIR" ]]; then
    misconfigured "DCS_DASK_LOG_DIR: cannot write to '$LOG_DIR'; set DCS_DASK_LOG_DIR to a writable directory"
  fi
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

# A Dask process of ours whose supervisor is gone (killed with SIGKILL, say)
# would make a second one once a new supervisor starts: end it first.
# stop_orphan KIND (scheduler or worker): the process its pid file names.
stop_orphan() {
  local pid
  pid="$(running_pid "$RUN_DIR/$1.pid")" || return 0
  log "stopping the $1 (pid $pid) left running by a supervisor that is gone"
  kill -TERM "$pid" 2>/dev/null || true
  ended_within "$pid" "$STOP_GRACE_S" || kill -KILL "$pid" 2>/dev/null || true
  ended_within "$pid" 5 || fail 1 "the $1 (pid $pid) left by a supervisor that is gone does not end"
}

# The lowest driver version among nvidia-smi's rows (they are one driver in practice).
LOWEST_DRIVER=""

# Decides, on a node that runs a worker, whether it runs dask-cuda: sets
# CUDA_DEVICES to the GPUs it runs on (0,1), or leaves it empty for the CPU
# worker. Fails (status 2) when the node's NVIDIA driver is older than the
# image's CUDA needs: Databricks then reports the start as an init script failure.
plan_gpus() {
  local smi output status=0 index name driver listing=""
  local -a indices=()
  CUDA_DEVICES=""
  if ! smi="$(command -v nvidia-smi)"; then
    if [[ -n "$CUDA_VERSION" ]]; then
      log "warning: this cluster boots a GPU image (DCS_CUDA_VERSION=$CUDA_VERSION) but this node has no nvidia-smi on its PATH: no GPU found, so it runs the CPU worker. Give the cluster a GPU node type, or a CPU image"
    fi
    return 0
  fi
  # index,name,driver_version: one line per GPU, "0, Tesla T4, 550.54.15" (the query
  # options of nvidia-smi(1)). Without a GPU or a driver it prints a message and exits non-zero.
  output="$(timeout 30 "$smi" --query-gpu=index,name,driver_version --format=csv,noheader 2>&1)" || status=$?
  LOWEST_DRIVER=""
  while IFS=, read -r index name driver; do
    index="${index//[[:space:]]/}"
    driver="${driver//[[:space:]]/}"
    [[ "$index" =~ ^[0-9]+$ ]] || continue
    name="${name#"${name%%[![:space:]]*}"}"
    indices+=("$index")
    listing+="${listing:+, }$index $name"
    if [[ -z "$LOWEST_DRIVER" ]] || { is_version "$driver" && is_version "$LOWEST_DRIVER" && version_older "$driver" "$LOWEST_DRIVER"; }; then
      LOWEST_DRIVER="$driver"
    fi
  done <<<"$output"
  if ((${#indices[@]} == 0)); then
    if [[ -n "$CUDA_VERSION" ]]; then
      log "warning: this cluster boots a GPU image (DCS_CUDA_VERSION=$CUDA_VERSION) but nvidia-smi found no GPU on this node (status $status: ${output%%$'\n'*}), so it runs the CPU worker. Give the cluster a GPU node type, or a CPU image"
    fi
    return 0
  fi
  log "nvidia-smi found ${#indices[@]} GPU(s): $listing; NVIDIA driver $LOWEST_DRIVER"
  if [[ -z "$CUDA_VERSION" ]]; then
    log "this node has ${#indices[@]} GPU(s) but the cluster boots a CPU image (DCS_CUDA_VERSION is not set): it runs the ordinary worker, which leaves the GPUs unused"
    return 0
  fi
  if [[ -z "$CUDA_MIN_DRIVER" ]]; then
    log "DCS_CUDA_MIN_DRIVER is not set: NVIDIA driver $LOWEST_DRIVER is not checked against CUDA $CUDA_VERSION"
  elif ! is_version "$LOWEST_DRIVER"; then
    log "warning: nvidia-smi reports the NVIDIA driver as '$LOWEST_DRIVER', which is no version: not checked against $CUDA_MIN_DRIVER, the lowest CUDA $CUDA_VERSION needs"
  elif version_older "$LOWEST_DRIVER" "$CUDA_MIN_DRIVER"; then
    misconfigured "the NVIDIA driver on this node is $LOWEST_DRIVER, older than $CUDA_MIN_DRIVER, the lowest the image's CUDA $CUDA_VERSION needs (DCS_CUDA_VERSION, DCS_CUDA_MIN_DRIVER). Build the image on a CUDA release this driver runs (config dcs:images.<name>.gpu.cuda), or choose a Databricks runtime whose GPU nodes run driver $CUDA_MIN_DRIVER or newer"
  else
    log "NVIDIA driver $LOWEST_DRIVER meets $CUDA_MIN_DRIVER, the lowest CUDA $CUDA_VERSION needs"
  fi
  "$PYTHON" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("dask_cuda") is None)' 2>/dev/null \
    || misconfigured "DCS_DASK_PYTHON: '$PYTHON' cannot import dask_cuda, which the workers of a GPU image (DCS_CUDA_VERSION=$CUDA_VERSION) run; install dask-cuda in the GPU image"
  if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
    # dask-cuda starts one worker per device CUDA_VISIBLE_DEVICES names: respect a choice made for this node.
    CUDA_DEVICES="$CUDA_VISIBLE_DEVICES"
    log "CUDA_VISIBLE_DEVICES is set to $CUDA_DEVICES: dask-cuda runs one worker per device it names"
  else
    CUDA_DEVICES="$(IFS=,; printf '%s' "${indices[*]}")"
  fi
}

# start_supervisor KIND PID_FILE ARGUMENT...: starts the supervisor of the
# scheduler or of a worker (`bash <copy> ARGUMENT...`) unless it runs already.
start_supervisor() {
  local kind="$1" pid_file="$2" pid launcher="$RUN_DIR/$SCRIPT_NAME" what="the supervisor" whose="the supervisor of the $1"
  shift 2
  if [[ "$ROLE" == driver && "$kind" == worker ]]; then
    what="the supervisor of the driver's worker"
    whose="$what"
  fi
  if pid="$(running_pid "$pid_file")"; then
    log "${what#the } already running (pid $pid); nothing to start"
    return 0
  fi
  stop_orphan "$kind"
  if [[ "$kind" == scheduler ]]; then
    port_free "$PORT" DCS_DASK_SCHEDULER_PORT
    port_free "$DASHBOARD_PORT" DCS_DASK_DASHBOARD_PORT
  fi
  # The supervisor runs from a copy in the run dir: the original may be removed
  # once this script has returned. A new file, never one rewritten in place.
  cp -- "$SCRIPT_PATH" "$launcher.new"
  mv -f -- "$launcher.new" "$launcher"
  log "starting $whose in the background (logs in $LOG_DIR: dask-init.log, dask-$kind.log)"
  setsid nohup bash "$launcher" "$@" </dev/null >>"$INIT_LOG" 2>&1 9>&- &
  local child=$! tries=0
  # Until the child has become the launcher (a fork of this shell, then setsid and nohup exec in
  # turn), its command line is this script's, or empty mid-exec, and running_pid would not know
  # it as ours: a --stop or a second run right now would miss it. Wait for that, 1 s at most.
  while ((tries++ < 50)) && alive "$child" && [[ "$(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null)" != *"$RUN_DIR/"* ]]; do
    sleep 0.02
  done
  printf '%s\n' "$child" >"$pid_file"
  if [[ "$kind" == scheduler ]]; then
    log "supervisor started (pid $child); clients connect to tcp://${DRIVER_IP:-<driver address>}:$PORT or use $RUN_DIR/scheduler.json; dashboard on port $DASHBOARD_PORT"
  else
    log "${what#the } started (pid $child); the worker joins tcp://$SCHEDULER_HOST:$PORT once it answers"
  fi
}

# Starts what this node runs: the scheduler on the driver, a worker elsewhere,
# both on a single-node driver. The GPUs are looked at first, so that a driver
# too old for the image fails the script before anything starts.
start_node() {
  local worker_pid_file="$SUPERVISOR_PID_FILE" worker_mode=--supervise
  local -a gpu_args=()
  if [[ "$ROLE" == driver ]] && ((!SINGLE_NODE)); then
    start_supervisor scheduler "$SUPERVISOR_PID_FILE" --supervise
    return 0
  fi
  if [[ "$ROLE" == driver ]]; then
    worker_pid_file="$WORKER_SUPERVISOR_PID_FILE"
    worker_mode=--supervise-worker
    log "single-node cluster (DCS_SINGLE_NODE=$SINGLE_NODE_SETTING): this driver runs the scheduler and a worker"
  elif ((SINGLE_NODE)); then
    log "DCS_SINGLE_NODE=$SINGLE_NODE_SETTING on a node that is not the driver: ignored, this node runs a worker"
  fi
  if ! running_pid "$worker_pid_file" >/dev/null; then
    plan_gpus
    if [[ -n "$CUDA_DEVICES" ]]; then gpu_args=(--cuda-devices "$CUDA_DEVICES"); fi
  fi
  if [[ "$ROLE" == driver ]]; then start_supervisor scheduler "$SUPERVISOR_PID_FILE" --supervise; fi
  start_supervisor worker "$worker_pid_file" "$worker_mode" "${gpu_args[@]}"
}

# Stops the supervisor a pid file names; false when none runs.
# stop_one PID_FILE WHAT (for the log).
stop_one() {
  local pid
  pid="$(running_pid "$1")" || return 1
  log "stopping $2 (pid $pid) and its Dask process"
  kill -TERM "$pid" 2>/dev/null || true
  if ! ended_within "$pid" $((STOP_GRACE_S + 10)); then
    log "$2 (pid $pid) did not end within $((STOP_GRACE_S + 10)) s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    ended_within "$pid" 5 || fail 1 "$2 (pid $pid) does not end"
  fi
}

# --stop: ends this node's supervisors, each of which stops its Dask process
# first: a single-node driver's worker before its scheduler. The same on any
# node, whatever DB_IS_DRIVER says: the pid files tell what runs.
stop_supervisor() {
  local kind stopped=0
  if stop_one "$WORKER_SUPERVISOR_PID_FILE" "the supervisor of the driver's worker"; then stopped=1; fi
  if stop_one "$SUPERVISOR_PID_FILE" "the supervisor"; then stopped=1; fi
  ((stopped)) || log "no supervisor running from $RUN_DIR"
  for kind in worker scheduler; do stop_orphan "$kind"; done
  rm -f "$SUPERVISOR_PID_FILE" "$WORKER_SUPERVISOR_PID_FILE" "$RUN_DIR/scheduler.pid" "$RUN_DIR/worker.pid"
  log "nothing of Dask runs from $RUN_DIR"
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

# --- The supervisor (runs as `init_script_dask.sh --supervise`, from the run dir) ---

STOPPING=0
CHILD=""

on_stop_signal() {
  STOPPING=1
  if [[ -n "$CHILD" ]]; then kill -TERM "$CHILD" 2>/dev/null || true; fi
}

# Sleeps $1 milliseconds, or less if the supervisor is told to stop.
pause() {
  sleep "$(seconds "$1")" &
  CHILD=$!
  # A stop signal that came before CHILD was set found nothing to end.
  if ((STOPPING)); then kill -TERM "$CHILD" 2>/dev/null || true; fi
  wait "$CHILD" || true
  CHILD=""
}

# Starts the Dask process (the command in "$@") in the background, records its
# pid, waits for it to end and sets EXIT_STATUS. Whatever it left behind in the
# supervisor's process group (a worker process whose nanny was killed) is killed.
EXIT_STATUS=0
run_dask() {
  if [[ -s "$DASK_LOG" ]] && (($(stat -c %s "$DASK_LOG") > LOG_ROTATE_BYTES)); then mv -f -- "$DASK_LOG" "$DASK_LOG.1"; fi
  "$@" </dev/null >>"$DASK_LOG" 2>&1 &
  CHILD=$!
  printf '%s\n' "$CHILD" >"$CHILD_PID_FILE"
  if ((STOPPING)); then kill -TERM "$CHILD" 2>/dev/null || true; fi
  EXIT_STATUS=0
  # A stop signal interrupts wait (status above 128) while the process still runs: wait again.
  while :; do
    # (2>/dev/null: bash would add its own "Killed" line; the log says it below.)
    wait "$CHILD" 2>/dev/null && EXIT_STATUS=0 || EXIT_STATUS=$?
    alive "$CHILD" || break
    if ((STOPPING)) && ! ended_within "$CHILD" "$STOP_GRACE_S"; then
      log "the $KIND (pid $CHILD) did not end within $STOP_GRACE_S s of SIGTERM; killing it"
      kill -KILL "$CHILD" 2>/dev/null || true
    fi
  done
  CHILD=""
  rm -f "$CHILD_PID_FILE"
  group_members "$$"
  if ((${#MEMBERS[@]})); then
    log "killing what the $KIND left running in the supervisor's process group: pids ${MEMBERS[*]}"
    kill -KILL "${MEMBERS[@]}" 2>/dev/null || true
  fi
}

# "status 137 (killed by signal 9)" for the log.
describe_status() {
  if (($1 > 128)); then printf 'status %d (killed by signal %d)' "$1" $(($1 - 128)); else printf 'status %d' "$1"; fi
}

# After an exit: the pause before the next start. It doubles while the process
# keeps exiting soon after its start (a crash loop), up to the maximum.
# Sets PAUSE_MS from how long the process lived ($1, seconds). Runs in this
# shell (never in $(...)): it keeps the doubling in RESTART_PAUSE_MS.
RESTART_PAUSE_MS=$FIRST_RESTART_PAUSE_MS
PAUSE_MS=0
next_restart_pause() {
  local cap_ms=$((BACKOFF_MAX * 1000))
  if (($1 >= QUICK_EXIT_S)); then RESTART_PAUSE_MS=$FIRST_RESTART_PAUSE_MS; fi
  PAUSE_MS=$((RESTART_PAUSE_MS < cap_ms ? RESTART_PAUSE_MS : cap_ms))
  RESTART_PAUSE_MS=$((RESTART_PAUSE_MS * 2 < cap_ms ? RESTART_PAUSE_MS * 2 : cap_ms))
}

supervise_scheduler() {
  local started
  while ((!STOPPING)); do
    rm -f "$RUN_DIR/scheduler.json"
    log "starting the scheduler on port $PORT with the dashboard on port $DASHBOARD_PORT (log $DASK_LOG)"
    started=$SECONDS
    run_dask "$PYTHON" -m distributed.cli.dask_scheduler \
      --port "$PORT" --dashboard-address ":$DASHBOARD_PORT" --scheduler-file "$RUN_DIR/scheduler.json"
    ((!STOPPING)) || break
    next_restart_pause $((SECONDS - started))
    log "the scheduler exited with $(describe_status "$EXIT_STATUS") after $((SECONDS - started)) s; starting it again in $(seconds "$PAUSE_MS")s"
    pause "$PAUSE_MS"
  done
}

# Waits until the scheduler answers: pauses from 0.25 s doubling up to the
# maximum, then at the maximum for as long as it takes. False if told to stop.
wait_for_scheduler() {
  local attempt=1 pause_ms="$FIRST_PAUSE_MS" cap_ms=$((BACKOFF_MAX * 1000))
  until answers "$SCHEDULER_HOST" "$PORT"; do
    ((!STOPPING)) || return 1
    if ((attempt == RETRIES)); then
      log "the scheduler at tcp://$SCHEDULER_HOST:$PORT is overdue: no answer after $RETRIES attempts; still trying every ${BACKOFF_MAX}s. Check the driver's dask-scheduler.log and dask-init.log (DCS_DASK_CONNECT_RETRIES sets when this is said)"
    fi
    log "scheduler at tcp://$SCHEDULER_HOST:$PORT not answering yet (attempt $attempt); next attempt in $(seconds "$pause_ms")s"
    pause "$pause_ms"
    ((!STOPPING)) || return 1
    attempt=$((attempt + 1))
    pause_ms=$((pause_ms * 2 < cap_ms ? pause_ms * 2 : cap_ms))
  done
  log "scheduler answers (attempt $attempt)"
}

# The memory limit of each of dask-cuda's GPU workers ($1 of them; $2: the node
# fraction in thousandths). dask-cuda hands its --memory-limit to every worker it
# starts, one per GPU: a size is each worker's, "auto" is the node's memory divided
# by the number of GPUs, and a fraction would be a fraction of the whole node for
# each worker (N GPUs, N times the fraction). So the node's Dask share (the node
# fraction, or DCS_DASK_WORKER_MEMORY as a fraction) is divided among the GPU
# workers here, as the CPU worker's is not; a size and auto go to dask-cuda as they are.
gpu_worker_memory() {
  local gpus="$1" millis="$2"
  if [[ -n "$MEMORY" && "$MEMORY" != *[!0-9.]* ]] && millis="$(fraction_millis "$MEMORY")"; then
    :
  elif [[ -n "$MEMORY" ]]; then
    printf '%s' "$MEMORY"
    return 0
  fi
  printf '%sMiB' $(($(node_memory_bytes) * millis / 1000 / gpus / 1048576))
}

supervise_worker() {
  local millis threads memory started gpus joining
  local -a command devices
  millis="$(fraction_millis)"
  mkdir -p "$RUN_DIR/worker-space"
  if [[ -n "$CUDA_DEVICES" ]]; then
    # dask-cuda (`dask cuda worker`, dask_cuda/cli.py) runs one worker process per
    # device CUDA_VISIBLE_DEVICES names, each under a nanny of its own, all in one
    # process: the one this supervisor starts, watches and starts again.
    IFS=, read -ra devices <<<"$CUDA_DEVICES"
    gpus=${#devices[@]}
    # Threads: dask-cuda's default, one per GPU worker (its --nthreads defaults to 1, as
    # LocalCUDACluster's threads_per_worker=1). Our reading, not dask-cuda's words: a
    # worker's tasks all run on its one GPU, and each more thread is one more task holding
    # device memory at once. DCS_DASK_WORKER_THREADS, when set, is each GPU worker's; the
    # node fraction, meant for CPU workers, is not applied.
    threads="${THREADS:-1}"
    memory="$(gpu_worker_memory "$gpus" "$millis")"
    # Device memory is left to dask-cuda's default --device-memory-limit (0.8 in v24.12,
    # "default" later, also 80 %): spill from the GPU to host memory at 80 % of the device's memory.
    # The scheduler, the spill space and no dashboard: as for the CPU worker.
    command=("$PYTHON" -m dask cuda worker "tcp://$SCHEDULER_HOST:$PORT"
      --nthreads "$threads" --memory-limit "$memory" --local-directory "$RUN_DIR/worker-space" --no-dashboard)
    export CUDA_VISIBLE_DEVICES="$CUDA_DEVICES"
    joining="as dask-cuda workers, one per GPU ($gpus, CUDA_VISIBLE_DEVICES=$CUDA_DEVICES), each with $threads threads and memory limit $memory"
  else
    threads="${THREADS:-$(($(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) * millis / 1000))}"
    ((threads >= 1)) || threads=1
    memory="${MEMORY:-$(($(node_memory_bytes) * millis / 1000 / 1048576))MiB}"
    command=("$PYTHON" -m distributed.cli.dask_worker "tcp://$SCHEDULER_HOST:$PORT"
      --nthreads "$threads" --memory-limit "$memory" --local-directory "$RUN_DIR/worker-space" --no-dashboard)
    joining="as a worker with $threads threads and memory limit $memory"
  fi
  while ((!STOPPING)); do
    log "waiting for the scheduler at tcp://$SCHEDULER_HOST:$PORT"
    wait_for_scheduler || break
    log "joining $joining (log $DASK_LOG)"
    started=$SECONDS
    run_dask "${command[@]}"
    ((!STOPPING)) || break
    next_restart_pause $((SECONDS - started))
    log "the worker exited with $(describe_status "$EXIT_STATUS") after $((SECONDS - started)) s (a worker also ends when it loses the scheduler); starting it again in $(seconds "$PAUSE_MS")s"
    pause "$PAUSE_MS"
  done
}

supervise() {
  # (SIGHUP stays ignored: nohup set that, and bash cannot trap what it inherits ignored.)
  trap on_stop_signal TERM INT
  log "cluster $CLUSTER_ID: supervisor of the $KIND started (pid $$, run dir $RUN_DIR, python $PYTHON)"
  if [[ "$KIND" == scheduler ]]; then supervise_scheduler; else supervise_worker; fi
  log "supervisor (pid $$) stopped"
}

main() {
  local mode=start
  case "${1:-}" in
    -h | --help)
      usage
      return 0
      ;;
    --supervise | --supervise-worker)
      # (Only as the supervisor this script starts; KIND above read which one.)
      mode=supervise
      if [[ "${2:-}" == --cuda-devices ]]; then CUDA_DEVICES="${3:-}"; fi
      ;;
    --stop) mode=stop ;;
    "") ;;
    *) misconfigured "unknown argument '$1'; this script takes --stop, --help or nothing (see --help)" ;;
  esac
  if [[ "$mode" == stop ]]; then
    # Stopping needs nothing but the run dir: no Python, no driver address.
    [[ "$RUN_DIR" == /* ]] || misconfigured "DCS_DASK_RUN_DIR must be an absolute path, got '$RUN_DIR'"
    if [[ ! -d "$RUN_DIR" ]]; then
      log "no run dir $RUN_DIR; nothing to stop"
      return 0
    fi
    if [[ -e "$RUN_DIR/scheduler.pid" || -e "$RUN_DIR/scheduler.json" ]]; then
      LABEL=driver
    elif [[ -e "$RUN_DIR/worker.pid" || -d "$RUN_DIR/worker-space" ]]; then
      LABEL=worker
    fi
    if [[ -d "$LOG_DIR" && -w "$LOG_DIR" ]]; then LOG_FILE="$INIT_LOG"; fi
  else
    validate
    if [[ "$mode" == supervise ]]; then
      supervise
      return 0
    fi
    LOG_FILE="$INIT_LOG"
  fi
  # One run at a time per run dir: two runs at once still start one supervisor,
  # and a stop never overlaps a start. The lock descriptor (9) is closed in the
  # processes we start.
  exec 9>"$RUN_DIR/.lock"
  flock -w 10 9 || fail 1 "another run holds $RUN_DIR/.lock for more than 10 s"
  if [[ "$mode" == stop ]]; then
    stop_supervisor
    return 0
  fi
  log "cluster $CLUSTER_ID: configuring Dask on this $ROLE (run dir $RUN_DIR, logs $LOG_DIR, python $PYTHON)"
  start_node
}

main "$@"
