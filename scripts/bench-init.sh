#!/usr/bin/env bash
# Benchmark of infra/init-scripts/init_script_dask.sh with a real Dask on
# 127.0.0.1: a driver and two workers, each with its own run dir, as on three
# nodes. Per run it measures
#   - how long the script takes to return, on the driver and on a worker;
#   - from the driver script's start, how long until the scheduler accepts
#     TCP connections, and until both workers have joined it;
#   - after the scheduler is killed (SIGKILL), how long until a new scheduler
#     has two workers that each ran a task;
#   - after a worker is killed (SIGKILL), how long until two workers, one of
#     them new, each ran a task.
# A Dask client that has already imported distributed watches each phase, so
# its own start-up is not counted (a restarted worker's is). Prints the median,
# minimum and maximum of each measure against its budget; exits 1 if a median
# is over budget, 2 on bad usage.
#
# Usage: scripts/bench-init.sh [RUNS]      (default 5)
# Needs a Python with dask and distributed: DCS_DASK_PYTHON, default /usr/bin/python3.
set -euo pipefail
export LC_ALL=C

runs="${1:-5}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$root/infra/init-scripts/init_script_dask.sh"
python="${DCS_DASK_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dcs-bench-init.XXXXXX")"
observer_pid=""
declare -a node_env=()

# Stops what a run started with the script's own --stop, workers first, then
# the scheduler; then the observer (the only process this script started itself).
stop_run() {
  local dir
  for dir in "$work"/worker-* "$work"/driver-*; do
    [[ -d "$dir" ]] || continue
    env "${node_env[@]}" DCS_DASK_RUN_DIR="$dir" bash "$script" --stop >/dev/null || echo "--stop failed for $dir" >&2
    rm -rf "$dir"
  done
  stop_observer
}
stop_observer() {
  if [[ -n "$observer_pid" ]]; then kill "$observer_pid" 2>/dev/null || true; wait "$observer_pid" 2>/dev/null || true; fi
  observer_pid=""
}
trap 'stop_run; rm -rf "$work"' EXIT

now_us() { local t="$EPOCHREALTIME"; echo "${t/./}"; }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The observer, one per phase: prints "ready" once it has imported distributed
# and seen the state before the fault, then the wall-clock time (microseconds)
# of each event it waits for.
#   start PORT      "accepted" when the port answers, "joined" when 2 workers are in
#   scheduler PORT  "recovered" when, after the scheduler stopped answering, a new
#                   one has 2 workers, each of which ran a task
#   worker PORT     "recovered" when the scheduler has 2 workers, one not seen
#                   before, each of which ran a task
read -r -d '' OBSERVER <<'PY' || true
import socket, sys, time
from distributed import Client

phase, port = sys.argv[1], int(sys.argv[2])
address = f"tcp://127.0.0.1:{port}"

def answers():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False

def each_worker_computes(client, workers):
    futures = [client.submit(lambda x: x + 1, i, workers=[w], allow_other_workers=False, pure=False) for i, w in enumerate(workers)]
    return client.gather(futures) == [i + 1 for i in range(len(workers))]

if phase == "start":
    print("ready", flush=True)
    while not answers():
        time.sleep(0.005)
    print("accepted", time.time_ns() // 1000, flush=True)
    with Client(address, timeout=30) as client:
        while len(client.sync(client.scheduler.identity)["workers"]) < 2:
            time.sleep(0.01)
        print("joined", time.time_ns() // 1000, flush=True)
elif phase == "scheduler":
    print("ready", flush=True)
    # The scheduler seen before the fault goes away; its supervisor pauses before the next.
    while answers():
        time.sleep(0.02)
    while not answers():
        time.sleep(0.005)
    with Client(address, timeout=30) as client:
        while True:
            try:
                workers = sorted(client.sync(client.scheduler.identity)["workers"])
                if len(workers) == 2 and each_worker_computes(client, workers):
                    print("recovered", time.time_ns() // 1000, flush=True)
                    sys.exit(0)
            except Exception:  # a worker leaving mid-task
                pass
            time.sleep(0.02)
elif phase == "worker":
    with Client(address, timeout=30) as client:
        old = set(client.sync(client.scheduler.identity)["workers"])
        print("ready", flush=True)
        while True:
            try:
                workers = set(client.sync(client.scheduler.identity)["workers"])
                if len(workers) == 2 and workers != old and each_worker_computes(client, sorted(workers)):
                    print("recovered", time.time_ns() // 1000, flush=True)
                    sys.exit(0)
            except Exception:  # a task on the killed worker
                pass
            time.sleep(0.02)
PY

# observe PHASE RUN: starts an observer for the phase and waits until it is ready.
observe() {
  "$python" -c "$OBSERVER" "$1" "$port" >"$work/observer-$1-$2.out" 2>"$work/observer-$1-$2.err" &
  observer_pid=$!
  until grep -q '^ready' "$work/observer-$1-$2.out" 2>/dev/null; do
    if ! kill -0 "$observer_pid" 2>/dev/null; then
      echo "run $2: the $1 observer failed:" >&2
      cat "$work/observer-$1-$2.err" >&2
      exit 1
    fi
    sleep 0.02
  done
}

# await_event PHASE RUN EVENT DEADLINE_S: waits for the observer's EVENT line and prints its time.
await_event() {
  local out="$work/observer-$1-$2.out" deadline=$((SECONDS + $4))
  until grep -q "^$3" "$out" || ((SECONDS > deadline)); do sleep 0.02; done
  if ! grep -q "^$3" "$out"; then
    echo "run $2: no '$3' within $4 s in phase $1; observer said:" >&2
    cat "$out" "$work/observer-$1-$2.err" >&2
    exit 1
  fi
  awk -v event="$3" '$1 == event { print $2 }' "$out"
}

declare -a driver_ms worker_ms accept_ms joined_ms scheduler_ms worker_back_ms
for ((i = 1; i <= runs; i++)); do
  port="$(free_port)"
  dashboard="$(free_port)"
  while [[ "$dashboard" == "$port" ]]; do dashboard="$(free_port)"; done
  node_env=(DB_DRIVER_IP=127.0.0.1 DB_CLUSTER_ID=bench DCS_DASK_PYTHON="$python"
    DCS_DASK_SCHEDULER_PORT="$port" DCS_DASK_DASHBOARD_PORT="$dashboard"
    DCS_DASK_WORKER_THREADS=1 DCS_DASK_WORKER_MEMORY=512MiB)

  observe start "$i"
  sleep 0.2 # let the observer's first connection attempts settle

  t0="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=TRUE DCS_DASK_RUN_DIR="$work/driver-$i" bash "$script" >/dev/null
  t1="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/worker-a-$i" bash "$script" >/dev/null
  t2="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/worker-b-$i" bash "$script" >/dev/null
  accepted="$(await_event start "$i" accepted 60)"
  joined="$(await_event start "$i" joined 60)"
  stop_observer
  driver_ms+=($(((t1 - t0) / 1000)))
  worker_ms+=($(((t2 - t1) / 1000)))
  accept_ms+=($(((accepted - t0) / 1000)))
  joined_ms+=($(((joined - t0) / 1000)))

  # Fault 1: the scheduler dies; its supervisor starts a new one, the workers' supervisors restart them.
  observe scheduler "$i"
  read -r scheduler <"$work/driver-$i/scheduler.pid"
  t0="$(now_us)"
  kill -KILL "$scheduler"
  recovered="$(await_event scheduler "$i" recovered 120)"
  stop_observer
  scheduler_ms+=($(((recovered - t0) / 1000)))

  # Fault 2: a worker dies; its supervisor starts it again.
  observe worker "$i"
  read -r worker <"$work/worker-a-$i/worker.pid"
  t0="$(now_us)"
  kill -KILL "$worker"
  recovered="$(await_event worker "$i" recovered 120)"
  stop_observer
  worker_back_ms+=($(((recovered - t0) / 1000)))

  printf 'run %d: driver returns %d ms, worker returns %d ms, scheduler accepts %d ms, both workers joined %d ms, back after scheduler killed %d ms, after worker killed %d ms\n' \
    "$i" "${driver_ms[-1]}" "${worker_ms[-1]}" "${accept_ms[-1]}" "${joined_ms[-1]}" "${scheduler_ms[-1]}" "${worker_back_ms[-1]}"
  stop_run
done

over=0
# row LABEL BUDGET_MS VALUES...: median, minimum and maximum against the budget.
row() {
  local label="$1" budget="$2" sorted median verdict
  shift 2
  mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
  median="${sorted[$(((${#sorted[@]} - 1) / 2))]}"
  verdict=ok
  if ((median > budget)); then verdict="OVER BUDGET"; over=1; fi
  printf '| %s | %d | %d | %d | %d | %s |\n' "$label" "$median" "${sorted[0]}" "${sorted[-1]}" "$budget" "$verdict"
}

echo
echo "init_script_dask.sh, $runs run(s) on $(nproc) cores, Dask $("$python" -c 'import distributed; print(distributed.__version__)'); milliseconds"
echo "| measure | median | min | max | budget | |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
row "driver script returns" 1000 "${driver_ms[@]}"
row "worker script returns" 1000 "${worker_ms[@]}"
row "scheduler accepts connections (from driver start)" 5000 "${accept_ms[@]}"
row "both workers joined (from driver start)" 10000 "${joined_ms[@]}"
row "scheduler killed: 2 workers computing again" 60000 "${scheduler_ms[@]}"
row "worker killed: 2 workers computing again" 30000 "${worker_back_ms[@]}"
exit "$over"
