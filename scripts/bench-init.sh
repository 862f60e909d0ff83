#!/usr/bin/env bash
# Benchmark of infra/init-scripts/init_script_dask.sh with a real Dask on
# 127.0.0.1: a driver and two workers, each with its own run dir, as on three
# nodes. Per run it measures
#   - how long the script takes to return, on the driver and on a worker;
#   - from the driver script's start, how long until the scheduler accepts
#     TCP connections, and until both workers have joined it.
# A Dask client that has already imported distributed watches the port and the
# scheduler, so its own start-up is not counted. Prints the median, minimum and
# maximum of each measure against its budget; exits 1 if a median is over budget.
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

# Stops what a run started, by pid: workers first, then the scheduler, then the observer.
stop_run() {
  local kind file pid
  for kind in worker scheduler; do
    for file in "$work"/*/"$kind.pid"; do
      [[ -s "$file" ]] || continue
      read -r pid <"$file"
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in {1..50}; do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$file"
    done
  done
  if [[ -n "$observer_pid" ]]; then kill "$observer_pid" 2>/dev/null || true; wait "$observer_pid" 2>/dev/null || true; fi
  observer_pid=""
}
trap 'stop_run; rm -rf "$work"' EXIT

now_us() { local t="$EPOCHREALTIME"; echo "${t/./}"; }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits for the scheduler port, then for two workers; prints the wall-clock time of each, in microseconds.
read -r -d '' OBSERVER <<'PY' || true
import socket, sys, time
from distributed import Client

port = int(sys.argv[1])
print("ready", flush=True)
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        break
    except OSError:
        time.sleep(0.005)
print("accepted", time.time_ns() // 1000, flush=True)
with Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
    while len(client.sync(client.scheduler.identity)["workers"]) < 2:
        time.sleep(0.01)
    print("joined", time.time_ns() // 1000, flush=True)
PY

declare -a driver_ms worker_ms accept_ms joined_ms
for ((i = 1; i <= runs; i++)); do
  port="$(free_port)"
  dashboard="$(free_port)"
  while [[ "$dashboard" == "$port" ]]; do dashboard="$(free_port)"; done
  node_env=(DB_DRIVER_IP=127.0.0.1 DB_CLUSTER_ID=bench DCS_DASK_PYTHON="$python"
    DCS_DASK_SCHEDULER_PORT="$port" DCS_DASK_DASHBOARD_PORT="$dashboard"
    DCS_DASK_WORKER_THREADS=1 DCS_DASK_WORKER_MEMORY=512MiB)

  "$python" -c "$OBSERVER" "$port" >"$work/observer-$i.out" 2>"$work/observer-$i.err" &
  observer_pid=$!
  until grep -q '^ready' "$work/observer-$i.out" 2>/dev/null; do sleep 0.02; done
  sleep 0.2 # let the observer's first connection attempts settle

  t0="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=TRUE DCS_DASK_RUN_DIR="$work/driver-$i" bash "$script" >/dev/null
  t1="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/worker-a-$i" bash "$script" >/dev/null
  t2="$(now_us)"
  env "${node_env[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/worker-b-$i" bash "$script" >/dev/null

  deadline=$((SECONDS + 60))
  until grep -q '^joined' "$work/observer-$i.out" || ((SECONDS > deadline)); do sleep 0.05; done
  if ! grep -q '^joined' "$work/observer-$i.out"; then
    echo "run $i: the workers did not join within 60 s; observer said:" >&2
    cat "$work/observer-$i.out" "$work/observer-$i.err" >&2
    exit 1
  fi
  accepted="$(awk '/^accepted/ { print $2 }' "$work/observer-$i.out")"
  joined="$(awk '/^joined/ { print $2 }' "$work/observer-$i.out")"

  driver_ms+=($(((t1 - t0) / 1000)))
  worker_ms+=($(((t2 - t1) / 1000)))
  accept_ms+=($(((accepted - t0) / 1000)))
  joined_ms+=($(((joined - t0) / 1000)))
  printf 'run %d: driver returns %d ms, worker returns %d ms, scheduler accepts %d ms, both workers joined %d ms\n' \
    "$i" "${driver_ms[-1]}" "${worker_ms[-1]}" "${accept_ms[-1]}" "${joined_ms[-1]}"
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
exit "$over"
