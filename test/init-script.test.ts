/**
 * The Dask init script on a real Dask (Debian's python3-distributed): a driver
 * and two workers on loopback, each in its own run dir, as Databricks would
 * start them on three nodes.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { INIT_SCRIPT, isRunning, LoopbackCluster, runScript } from "./helpers/dask";

let cluster: LoopbackCluster | undefined;
afterEach(() => {
  cluster?.stop();
  cluster = undefined;
});

describe("init_script_dask.sh on a real Dask", () => {
  it("starts a scheduler on the driver and workers on the executors, which compute", async () => {
    cluster = await LoopbackCluster.create();
    const driver = await cluster.run("driver", "driver");
    expect(driver.code, driver.stderr).toBe(0);
    expect(driver.stdout).toMatch(new RegExp(`starting scheduler on port ${cluster.port}`));
    const workers = await Promise.all([cluster.run("worker-1", "worker"), cluster.run("worker-2", "worker")]);
    for (const w of workers) expect(w.code, w.stderr).toBe(0);
    // The scripts have returned (their speed is measured by npm run bench:init); the processes keep running.
    expect(await cluster.compute(2)).toEqual({ workers: 2, result: 328350 });
    expect(isRunning(cluster.pid("driver", "scheduler"))).toBe(true);
    const log = fs.readFileSync(path.join(cluster.dir, "worker-1", "init.log"), "utf8");
    expect(log).toMatch(/worker joins with 1 threads and memory limit 512MiB/);
  }, 60_000);

  it("is idempotent: a second run starts no second scheduler or worker", async () => {
    cluster = await LoopbackCluster.create();
    await cluster.run("driver", "driver");
    const scheduler = cluster.pid("driver", "scheduler");
    const again = await cluster.run("driver", "driver");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`scheduler already running (pid ${scheduler})`);
    expect(cluster.pid("driver", "scheduler")).toBe(scheduler);

    await cluster.run("worker-1", "worker");
    const worker = cluster.pid("worker-1", "worker");
    const workerAgain = await cluster.run("worker-1", "worker");
    expect(workerAgain.stdout).toContain(`worker already running or waiting for the scheduler (pid ${worker})`);
    expect(await cluster.compute(1)).toEqual({ workers: 1, result: 328350 });
    // Exactly one scheduler process serves this run dir.
    const processes = spawnSync("pgrep", ["-f", `dask_scheduler --port ${cluster.port} `]).stdout.toString().trim().split("\n").filter(Boolean);
    expect(processes).toEqual([String(scheduler)]);
  }, 60_000);

  it("lets a worker started before the scheduler join once it is up", async () => {
    cluster = await LoopbackCluster.create();
    const early = await cluster.run("worker-1", "worker");
    expect(early.code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(fs.readFileSync(path.join(cluster.dir, "worker-1", "init.log"), "utf8")).toMatch(/not answering yet \(attempt 1 of 60\)/);
    await cluster.run("driver", "driver");
    expect(await cluster.compute(1)).toEqual({ workers: 1, result: 328350 });
  }, 60_000);

  it("gives up after the configured retries with a message saying what to check", async () => {
    cluster = await LoopbackCluster.create();
    await cluster.run("worker-1", "worker", { DCS_DASK_CONNECT_RETRIES: "2" });
    const pid = cluster.pid("worker-1", "worker");
    for (let i = 0; i < 40 && isRunning(pid); i++) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(isRunning(pid)).toBe(false);
    expect(fs.readFileSync(path.join(cluster.dir, "worker-1", "init.log"), "utf8")).toMatch(/did not answer after 2 attempts.*DCS_DASK_CONNECT_RETRIES/);
  }, 30_000);
});

describe("init_script_dask.sh misconfigured", () => {
  const cases: [string, Record<string, string | undefined>, "driver" | "worker", RegExp][] = [
    ["a worker without the driver's address", { DB_DRIVER_IP: undefined }, "worker", /DB_DRIVER_IP is not set/],
    ["a scheduler port that is no number", { DCS_DASK_SCHEDULER_PORT: "dask" }, "driver", /DCS_DASK_SCHEDULER_PORT must be a port number/],
    ["a port out of range", { DCS_DASK_DASHBOARD_PORT: "70000" }, "driver", /DCS_DASK_DASHBOARD_PORT must be a port number/],
    ["the same port twice", { DCS_DASK_DASHBOARD_PORT: "18786", DCS_DASK_SCHEDULER_PORT: "18786" }, "driver", /must differ from DCS_DASK_SCHEDULER_PORT/],
    ["a missing interpreter", { DCS_DASK_PYTHON: "/nonexistent/python" }, "driver", /DCS_DASK_PYTHON: '\/nonexistent\/python' is not an executable/],
    ["zero worker threads", { DCS_DASK_WORKER_THREADS: "0" }, "worker", /DCS_DASK_WORKER_THREADS must be a whole number/],
    ["a memory limit that is no size", { DCS_DASK_WORKER_MEMORY: "lots" }, "worker", /DCS_DASK_WORKER_MEMORY must be 'auto' or a size/],
    ["retries that are no number", { DCS_DASK_CONNECT_RETRIES: "many" }, "worker", /DCS_DASK_CONNECT_RETRIES must be a whole number/],
    ["a run dir that cannot be created", { DCS_DASK_RUN_DIR: "/proc/dcs-dask-cannot-exist" }, "driver", /DCS_DASK_RUN_DIR: cannot write/],
  ];

  it.each(cases)("fails on %s, naming what to set", async (_title, extra, role, message) => {
    cluster = await LoopbackCluster.create();
    const run = await cluster.run("node", role, extra);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(fs.existsSync(path.join(cluster.dir, "node", "scheduler.pid"))).toBe(false);
    expect(fs.existsSync(path.join(cluster.dir, "node", "worker.pid"))).toBe(false);
  });

  it("passes shellcheck, as does every shell script of the repository", () => {
    const others = ["infra/smoke-test.sh", "scripts/bench-init.sh", ".ci/run"].map((p) => path.join(path.dirname(INIT_SCRIPT), "..", "..", p));
    const r = spawnSync("shellcheck", [INIT_SCRIPT, ...others]);
    expect(r.error, "shellcheck must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
  });

  it("refuses to run with no environment at all, as a worker, before touching anything", async () => {
    const r = await runScript({ PATH: process.env.PATH });
    expect(r.code).not.toBe(0);
  });
});
