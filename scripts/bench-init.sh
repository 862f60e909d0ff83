#!/usr/bin/env bash
# Benchmarks infra/init-scripts/init_script_dask.sh on a real Dask on loopback:
# how long the script takes to return (driver, worker), how long until the
# scheduler accepts connections, and how long until two workers have joined.
# Needs Debian's python3-distributed (DCS_DASK_PYTHON defaults to /usr/bin/python3).
# Usage: scripts/bench-init.sh [runs]   (default 3; prints the median of each)
set -euo pipefail

runs="${1:-3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$root/infra/init-scripts/init_script_dask.sh"
python="${DCS_DASK_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d)"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

stop_all() {
  local f
  for f in "$work"/*/worker.pid "$work"/*/scheduler.pid; do
    if [[ -s "$f" ]]; then kill -- "-$(<"$f")" 2>/dev/null || true; fi
  done
  sleep 0.5
  for f in "$work"/*/worker.pid "$work"/*/scheduler.pid; do
    if [[ -s "$f" ]]; then kill -9 -- "-$(<"$f")" 2>/dev/null || true; fi
    rm -f "$f"
  done
}
trap 'stop_all; rm -rf "$work"' EXIT

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -a driver_return worker_return accept joined
for ((i = 1; i <= runs; i++)); do
  port="$(free_port)"
  dashboard="$(free_port)"
  common=(DCS_DASK_PYTHON="$python" DCS_DASK_SCHEDULER_PORT="$port" DCS_DASK_DASHBOARD_PORT="$dashboard"
    DCS_DASK_WORKER_THREADS=1 DCS_DASK_WORKER_MEMORY=512MiB DCS_DASK_CONNECT_BACKOFF_MAX=1 DB_DRIVER_IP=127.0.0.1)

  t0="$(now_ms)"
  env "${common[@]}" DB_IS_DRIVER=TRUE DCS_DASK_RUN_DIR="$work/driver-$i" bash "$script" >/dev/null
  t1="$(now_ms)"
  env "${common[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/w1-$i" bash "$script" >/dev/null
  t2="$(now_ms)"
  env "${common[@]}" DB_IS_DRIVER=FALSE DCS_DASK_RUN_DIR="$work/w2-$i" bash "$script" >/dev/null

  # shellcheck disable=SC2016 # $1 expands in the inner shell, on purpose
  until timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null; do sleep 0.05; done
  t3="$(now_ms)"
  "$python" - "$port" <<'PY'
import sys, time
from distributed import Client
client = Client(f"tcp://127.0.0.1:{sys.argv[1]}", timeout=30)
while len(client.scheduler_info()["workers"]) < 2:
    time.sleep(0.05)
client.close()
PY
  t4="$(now_ms)"

  driver_return+=($((t1 - t0)))
  worker_return+=($((t2 - t1)))
  accept+=($((t3 - t0)))
  joined+=($((t4 - t0)))
  stop_all
done

echo "init_script_dask.sh on loopback, $runs run(s), median in milliseconds (from the driver script's start):"
printf '| measure | ms | budget ms |\n| --- | ---: | ---: |\n'
printf '| driver script returns | %s | 1000 |\n' "$(printf '%s\n' "${driver_return[@]}" | median)"
printf '| worker script returns | %s | 1000 |\n' "$(printf '%s\n' "${worker_return[@]}" | median)"
printf '| scheduler accepts connections | %s | 5000 |\n' "$(printf '%s\n' "${accept[@]}" | median)"
printf '| both workers joined | %s | 10000 |\n' "$(printf '%s\n' "${joined[@]}" | median)"
