"""Dask smoke job: proof that the image, the init script and Dask work together.

Runs as a Databricks spark_python_task on the driver of the job's cluster,
where init_script_dask.sh started the Dask scheduler:

    dask_smoke.py [--workers N] [--timeout SECONDS] [--tasks T]

1. connects through dcs_dask.get_client() (the image ships it), which finds the
   scheduler through its scheduler file, DB_DRIVER_IP or this node;
2. waits until at least N workers have joined; --timeout bounds steps 1 and 2
   together, and then the computation on its own;
3. checks that the client, the scheduler and every worker run the same
   distributed and dask versions;
4. runs T small tasks through client.map and sums a dask.array, and checks both
   results exactly, and that more than one worker did the work when N > 1
   (each worker's share is the results it holds).

One line per step on stdout, then a summary. Any failure ends the run with a
line "dask-smoke: FAILED: ..." on stderr and a non-zero exit code, which fails
the Databricks run: 1 unexpected error (with its traceback), 2 usage, 3 no
scheduler, 4 too few workers, 5 version mismatch, 6 wrong result, 7 all work on
one worker, 8 computation timed out, 9 dcs_dask or Dask not importable.

Needs dask, distributed and numpy only (and dcs_dask beside them).
"""

import argparse
import asyncio
import operator
import sys
import time
import traceback

EXIT_USAGE = 2
EXIT_NO_SCHEDULER = 3
EXIT_TOO_FEW_WORKERS = 4
EXIT_VERSION_MISMATCH = 5
EXIT_WRONG_RESULT = 6
EXIT_NOT_SPREAD = 7
EXIT_COMPUTE_TIMEOUT = 8
EXIT_NOT_IMPORTABLE = 9

ARRAY_LENGTH = 1_000_000
ARRAY_CHUNK = 100_000


class SmokeFailure(Exception):
    """A check failed; carries the exit code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def step(message):
    print(f"dask-smoke: {message}", flush=True)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="dask_smoke.py", description="Dask smoke job for a dcs-platform cluster.")
    parser.add_argument("--workers", type=positive_int, default=1, help="workers that must join (default 1)")
    parser.add_argument("--timeout", type=positive_float, default=300.0, help="seconds for the scheduler and the workers, and again for the computation (default 300)")
    parser.add_argument("--tasks", type=positive_int, default=100, help="tasks to spread over the workers (default 100)")
    return parser.parse_args(argv)


def connect(timeout):
    try:
        import dcs_dask
        import dask.array  # noqa: F401  (needed by the computation; fail here, clearly)
        import distributed  # noqa: F401
    except ImportError as error:
        raise SmokeFailure(
            EXIT_NOT_IMPORTABLE,
            f"cannot import {error.name or error}: this Python ({sys.executable}) is not the dcs image's. "
            "Check the job cluster's docker image.",
        ) from None
    try:
        return dcs_dask.get_client(timeout=timeout)
    except dcs_dask.SchedulerNotFoundError as error:
        raise SmokeFailure(EXIT_NO_SCHEDULER, str(error)) from None


def wait_for_workers(client, wanted, deadline, timeout):
    """The workers' addresses once at least `wanted` have joined; fails at the deadline."""
    while True:
        workers = sorted(client.nthreads())
        if len(workers) >= wanted:
            return workers
        if time.monotonic() >= deadline:
            joined = ", ".join(workers) or "none"
            raise SmokeFailure(
                EXIT_TOO_FEW_WORKERS,
                f"only {len(workers)} of {wanted} workers joined within {timeout:g} s (joined: {joined}). "
                "Workers start on the executors once the driver's scheduler answers: check the cluster's "
                "size, and dask-init.log and dask-worker.log in each worker's Dask log dir.",
            )
        time.sleep(0.5)


def check_versions(client):
    """'dask X, distributed Y' when the client, the scheduler and every worker agree."""
    versions = client.get_versions()
    seen = {"client": versions["client"], "scheduler": versions["scheduler"], **{f"worker {w}": v for w, v in versions["workers"].items()}}
    found = {}
    for package in ("dask", "distributed"):
        by_version = {}
        for where, info in seen.items():
            by_version.setdefault(str(info["packages"].get(package)), []).append(where)
        if len(by_version) > 1:
            detail = "; ".join(f"{version} on {', '.join(places)}" for version, places in sorted(by_version.items()))
            raise SmokeFailure(EXIT_VERSION_MISMATCH, f"{package} versions differ: {detail}. Every node must run the image's Python (DCS_DASK_PYTHON).")
        found[package] = next(iter(by_version))
    return f"dask {found['dask']}, distributed {found['distributed']}"


def compute(client, tasks, workers_wanted, timeout):
    """Exact sums and how many results each worker holds; fails on a wrong result, no spread or the timeout.

    Only library functions travel to the workers (operator.mul, dask.array's
    own), never one of this file: they unpickle on any worker whatever name the
    runner gave this file.
    """
    from distributed import wait
    import dask.array as da

    futures = client.map(operator.mul, range(tasks), range(tasks), pure=False)
    array_sum = client.compute(da.arange(ARRAY_LENGTH, chunks=ARRAY_CHUNK, dtype="int64").sum())
    try:
        wait(futures + [array_sum], timeout=timeout)
    except (TimeoutError, asyncio.TimeoutError):
        done = sum(f.status == "finished" for f in futures)
        raise SmokeFailure(EXIT_COMPUTE_TIMEOUT, f"the computation did not finish within {timeout:g} s ({done} of {tasks} tasks done)") from None
    squares = sum(client.gather(futures))
    total = int(array_sum.result())

    expected_squares = (tasks - 1) * tasks * (2 * tasks - 1) // 6
    if squares != expected_squares:
        raise SmokeFailure(EXIT_WRONG_RESULT, f"sum of {tasks} squares is {squares}, expected {expected_squares}")
    expected_total = ARRAY_LENGTH * (ARRAY_LENGTH - 1) // 2
    if total != expected_total:
        raise SmokeFailure(EXIT_WRONG_RESULT, f"dask.array sum is {total}, expected {expected_total}")

    # A result stays on the worker that computed it: who holds each is who did the work.
    per_worker = {}
    for holders in client.who_has(futures).values():
        for address in sorted(holders)[:1]:
            per_worker[address] = per_worker.get(address, 0) + 1
    if workers_wanted > 1 and len(per_worker) < 2:
        where = next(iter(per_worker), "no worker")
        raise SmokeFailure(EXIT_NOT_SPREAD, f"all {tasks} tasks ran on one worker ({where}), but {workers_wanted} workers were asked for")
    return squares, total, per_worker


def run(args):
    started = time.monotonic()
    deadline = started + args.timeout
    step(f"connecting to the cluster's Dask scheduler (waiting up to {args.timeout:g} s for it and {args.workers} worker(s))")
    client = connect(args.timeout)
    with client:
        address = client.scheduler.address
        step(f"connected to {address}")
        workers = wait_for_workers(client, args.workers, deadline, args.timeout)
        step(f"{len(workers)} worker(s) joined (at least {args.workers} asked for): {', '.join(workers)}")
        versions = check_versions(client)
        step(f"client, scheduler and {len(workers)} worker(s) run {versions}")
        step(f"computing: {args.tasks} tasks through client.map and the sum of a {ARRAY_LENGTH}-element dask.array (up to {args.timeout:g} s)")
        squares, total, per_worker = compute(client, args.tasks, args.workers, args.timeout)
        spread = ", ".join(f"{worker} {count}" for worker, count in sorted(per_worker.items()))
        step(f"results exact: sum of squares {squares}, array sum {total}; tasks per worker: {spread}")
    seconds = time.monotonic() - started
    step(
        f"PASSED: scheduler {address}, {len(workers)} worker(s) ({args.workers} required), "
        f"{args.tasks} tasks on {len(per_worker)} worker(s), results exact, {versions}, {seconds:.1f} s"
    )


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except SmokeFailure as failure:
        print(f"dask-smoke: FAILED: {failure}", file=sys.stderr, flush=True)
        return failure.code
    except Exception as error:  # a scheduler or worker lost mid-run raises many kinds
        traceback.print_exc()
        print(f"dask-smoke: FAILED: unexpected {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


# Runs under whatever module name the runner gives the file (no __main__ guard):
# a runner that executes it under another name must not make the job pass
# without running. Only a failure exits; a successful run ends normally, never
# through SystemExit.
_code = main()
if _code:
    sys.exit(_code)
