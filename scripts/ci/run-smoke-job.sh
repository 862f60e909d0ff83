#!/usr/bin/env bash
# Runs a job of a team stack after its deployment and fails when the run
# fails: by default the job `smoke` (jobs/dask_smoke.py on a fresh job cluster
# from the stack's image, with its init scripts: the proof that image, init
# script and Dask work together on the real workspace).
#
#   1. The job id: `pulumi stack output jobs --json --stack STACK` gives
#      { <name>: { id, url } }. A stack without that job (no jobs output at
#      all, as a platform stack, or no entry JOB) says so and exits 0.
#   2. `databricks jobs run-now JOB_ID --no-wait -o json` starts a run and gives
#      its run_id.
#   3. `databricks jobs get-run RUN_ID -o json`, every DCS_SMOKE_INTERVAL_SECONDS,
#      until state.life_cycle_state is TERMINATED, SKIPPED or INTERNAL_ERROR;
#      the run page URL (run_page_url) is printed at the first reading, each
#      new state as it comes.
#   4. Passed when the run ends TERMINATED with result_state SUCCESS: prints the
#      result and the last line of each task's output. Anything else fails:
#      the run's state, result, state_message and termination details, then for
#      each task that did not succeed, from
#      `databricks jobs get-run-output TASK_RUN_ID -o json` (a task's run id, from
#      the run's tasks[]: the output of a job run is per task), its error, the
#      last lines of its error_trace and of its output (logs: stdout and stderr
#      of a spark_python_task). A run still going at DCS_SMOKE_TIMEOUT is
#      cancelled (`databricks jobs cancel-run RUN_ID --no-wait`) and fails; so
#      does a run the step is interrupted in (SIGINT, SIGTERM).
#
# Why not run-now's own wait (without --no-wait it waits, up to --timeout, 20m by
# default, for TERMINATED or SKIPPED, and prints the run; databricks/cli v0.294.1
# cmd/workspace/jobs/jobs.go): for a run that ends INTERNAL_ERROR, and when its
# timeout passes, it returns an error and nothing of the run (databricks-sdk-go
# v0.120.0 service/jobs/api.go, WaitGetRunJobTerminatedOrSkipped), so neither
# the run page nor the task's error could be shown, and the run would go on
# after a timeout.
#
# Nothing secret is printed: only the fields named above, never the run's
# cluster spec or parameters; in text from the run, the value of any
# credential variable of the environment becomes *** (scripts/ci/job-run.js).
#
# Environment:
#   DCS_SMOKE_TIMEOUT           how long to wait for the run: 30m by default; a
#                               duration such as 45m, 1h, 1h30m, 90s, or seconds
#   DCS_SMOKE_INTERVAL_SECONDS  between two readings of the run (default 30; fractions allowed)
#   DCS_SMOKE_LOG_LINES         lines of a failed task's error trace and output shown (default 40)
#   The Databricks CLI's own, as for check-clusters.sh: DATABRICKS_AUTH_TYPE and
#   its credentials as databricks-auth.sh set them; the workspace is the stack's
#   (use_stack_workspace in lib.sh). The Pulumi CLI's: logged in,
#   PULUMI_CONFIG_PASSPHRASE when the stack uses one.
#
# Exit status: 0 the run succeeded, or the stack has no such job; 1 the run
# failed, timed out or a command failed; 2 bad usage.
#
# Usage: scripts/ci/run-smoke-job.sh STACK [JOB]
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/run-smoke-job.sh STACK [JOB]'
if (($# < 1 || $# > 2)); then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
job="${2:-smoke}"
job_js="$ci_root/scripts/ci/job-run.js"
log() { printf 'run-smoke-job: %s\n' "$*"; }
if [[ ! "$job" =~ ^[a-z][a-z0-9-]{0,30}$ ]]; then
  echo "run-smoke-job: JOB is a name of the stack's dcs:jobs (lower-case letters, digits, '-'), got '$job'" >&2
  exit 2
fi
[[ -f "$ci_root/Pulumi.$stack.yaml" ]] || { echo "run-smoke-job: no stack file Pulumi.$stack.yaml" >&2; exit 2; }

# DCS_SMOKE_TIMEOUT as milliseconds: 30m, 1h30m, 90s, or plain seconds.
timeout_text="${DCS_SMOKE_TIMEOUT:-30m}"
if [[ "$timeout_text" =~ ^[0-9]+$ ]]; then
  timeout_ms=$((10#$timeout_text * 1000))
elif [[ -n "$timeout_text" && "$timeout_text" =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$ ]]; then
  h="${BASH_REMATCH[1]%h}" m="${BASH_REMATCH[2]%m}" s="${BASH_REMATCH[3]%s}"
  timeout_ms=$(((10#${h:-0} * 3600 + 10#${m:-0} * 60 + 10#${s:-0}) * 1000))
else
  timeout_ms=0
fi
if ((timeout_ms <= 0)); then
  echo "run-smoke-job: DCS_SMOKE_TIMEOUT must be a duration such as 30m, 1h30m or 90s (or seconds), got '$timeout_text'" >&2
  exit 2
fi
interval="${DCS_SMOKE_INTERVAL_SECONDS:-30}"
if [[ ! "$interval" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "run-smoke-job: DCS_SMOKE_INTERVAL_SECONDS must be a number of seconds, got '$interval'" >&2
  exit 2
fi
log_lines="${DCS_SMOKE_LOG_LINES:-40}"
if [[ ! "$log_lines" =~ ^[1-9][0-9]*$ ]]; then
  echo "run-smoke-job: DCS_SMOKE_LOG_LINES must be a number of lines, got '$log_lines'" >&2
  exit 2
fi
now_ms() { date +%s%3N; }
one_line() { head -c "${2:-300}" "$1" | tr '\n\t' '  '; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1. The job id, from the stack's jobs output.
if ! pulumi stack output jobs --json --stack "$stack" >"$tmp/jobs" 2>"$tmp/error"; then
  if grep -q "does not have output property 'jobs'" "$tmp/error"; then
    log "stack $stack has no jobs output (a platform stack, or one deployed without jobs): no job $job to run"
    exit 0
  fi
  log "cannot read the jobs output of stack $stack: $(one_line "$tmp/error" 500)" >&2
  exit 1
fi
status=0
job_id="$(node "$job_js" job-id "$job" <"$tmp/jobs" 2>"$tmp/error")" || status=$?
case "$status" in
  0) ;;
  3)
    log "stack $stack declares no job $job (its jobs: $job_id): nothing to run"
    exit 0
    ;;
  *)
    log "cannot read the jobs output of stack $stack: $(one_line "$tmp/error" 500)" >&2
    exit 1
    ;;
esac

# The workspace, for the Databricks CLI (a team stack's is its platform stack's).
use_stack_workspace "$stack" || exit 1

# 2. Start the run.
if ! databricks jobs run-now "$job_id" --no-wait -o json >"$tmp/run-now" 2>"$tmp/error"; then
  log "FAILED: cannot start job $job (job id $job_id) of stack $stack: $(one_line "$tmp/error" 500)" >&2
  exit 1
fi
if ! run_id="$(node "$job_js" run-id <"$tmp/run-now" 2>"$tmp/error")"; then
  log "FAILED: job $job (job id $job_id) of stack $stack: $(one_line "$tmp/error" 500)" >&2
  exit 1
fi
started_ms="$(now_ms)"
log "started run $run_id of job $job (job id $job_id) of stack $stack; waiting up to $timeout_text"

url=""
cancel_run() { # WHY
  if databricks jobs cancel-run "$run_id" --no-wait >/dev/null 2>"$tmp/error"; then
    log "cancelled run $run_id ($1)${url:+: $url}" >&2
  else
    log "could not cancel run $run_id ($1): $(one_line "$tmp/error")${url:+; cancel it at $url}" >&2
  fi
}
sleeper=""
# shellcheck disable=SC2317 # run by the traps below
on_signal() { # WHY STATUS
  [[ -z "$sleeper" ]] || kill "$sleeper" 2>/dev/null || true
  cancel_run "$1"
  exit "$2"
}
trap 'on_signal interrupted 130' INT
trap 'on_signal terminated 143' TERM

# 3. Wait for it.
deadline=$((started_ms + timeout_ms))
life="" result="" message="" termination="" tasks=() last="" unreadable=0
while :; do
  if databricks jobs get-run "$run_id" -o json >"$tmp/run" 2>"$tmp/error" && node "$job_js" run <"$tmp/run" >"$tmp/fields" 2>"$tmp/error"; then
    unreadable=0
    mapfile -t fields <"$tmp/fields"
    life="${fields[0]:-}" result="${fields[1]:-}" message="${fields[2]:-}" termination="${fields[4]:-}"
    tasks=("${fields[@]:5}")
    if [[ -z "$url" && -n "${fields[3]:-}" ]]; then
      url="${fields[3]}"
      log "run $run_id: $url"
    fi
    if [[ "$life" != "$last" ]]; then
      log "run $run_id: ${life}${message:+ ($message)}"
      last="$life"
    fi
    case "$life" in TERMINATED | SKIPPED | INTERNAL_ERROR) break ;; esac
  else
    unreadable=$((unreadable + 1))
    if ((unreadable >= 5)); then
      log "FAILED: cannot read run $run_id of job $job (5 attempts in a row): $(one_line "$tmp/error")${url:+; the run goes on: $url}" >&2
      exit 1
    fi
  fi
  if (($(now_ms) >= deadline)); then
    log "FAILED: run $run_id of job $job of stack $stack is still ${life:-unread} after DCS_SMOKE_TIMEOUT=$timeout_text${url:+: $url}"
    cancel_run "timed out"
    exit 1
  fi
  # In the background, so that an interruption cancels the run at once.
  sleep "$interval" &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=""
done
took=$((($(now_ms) - started_ms) / 1000))

# 4. The result.
if [[ "$life" == TERMINATED && "$result" == SUCCESS ]]; then
  for task in "${tasks[@]}"; do
    IFS=$'\x1f' read -r task_run task_key _ <<<"$task"
    if databricks jobs get-run-output "$task_run" -o json >"$tmp/output" 2>/dev/null && line="$(node "$job_js" last-line <"$tmp/output" 2>/dev/null)" && [[ -n "$line" ]]; then
      log "task $task_key (run $task_run), last line of its output: $line"
    fi
  done
  log "PASSED: job $job of stack $stack, run $run_id: SUCCESS after ${took}s: $url"
  exit 0
fi

log "FAILED: job $job of stack $stack, run $run_id ended ${life}${result:+ $result} after ${took}s${message:+: $message}${termination:+; termination: $termination}"
log "run page: ${url:-unknown}"
if [[ "$life" == SKIPPED ]]; then
  log "a skipped run never ran: another run of the job was active (one run at a time); let it finish or cancel it, then run the deployment again"
fi
for task in "${tasks[@]}"; do
  IFS=$'\x1f' read -r task_run task_key task_life task_result task_message <<<"$task"
  [[ "$task_result" != SUCCESS ]] || continue
  log "task $task_key (run $task_run): ${task_life}${task_result:+ $task_result}${task_message:+: $task_message}"
  if databricks jobs get-run-output "$task_run" -o json >"$tmp/output" 2>"$tmp/error" && node "$job_js" output "$log_lines" <"$tmp/output" >"$tmp/shown" 2>"$tmp/error"; then
    cat "$tmp/shown"
  else
    log "  its output cannot be read: $(one_line "$tmp/error")"
  fi
done
log "job $job of stack $stack failed${url:+: $url}" >&2
exit 1
