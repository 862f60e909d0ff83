/**
 * infra/init-scripts/init_script_dask.sh, run for real with a real Dask
 * (Debian's python3-distributed under /usr/bin/python3): a driver and workers
 * on 127.0.0.1, each node with its own run dir as on separate machines, and a
 * Dask client that computes on them. Every process a test starts is stopped
 * by pid afterwards, workers before the scheduler, also when the test fails.
 * How fast the script and the cluster come up is measured by scripts/bench-init.sh.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { daskEnvVars } from "../stacks/dask";
import { freePorts, killPids, liveProcess, liveProcessesMentioning, ROOT, run, stopGroups, SYSTEM_PYTHON, waitFor, type Run } from "./helpers/processes";

const SCRIPT = path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh");
const README = path.join(ROOT, "infra", "init-scripts", "README.md");

type Role = "driver" | "worker";
type Env = Record<string, string | undefined>;

/** What a Dask client saw on the cluster; see `LoopbackCluster.compute`. */
interface Computed {
  workers: { nthreads: number; memoryLimit: number }[];
  sumOfSquares: number;
  arraySum: number;
  workerPids: number[];
}

const CLIENT_PROGRAM = `
import json, os, sys
import dask.array as da
from distributed import Client

address, expected = sys.argv[1], int(sys.argv[2])
with Client(address, timeout=30) as client:
    client.wait_for_workers(expected, timeout=30)
    squares = client.gather(client.map(lambda x: x * x, range(100)))
    array_sum = da.ones((1000, 1000), chunks=(100, 100)).sum().compute()
    workers = client.scheduler_info()["workers"].values()
    print(json.dumps({
        "workers": sorted(({"nthreads": w["nthreads"], "memoryLimit": w["memory_limit"]} for w in workers), key=lambda w: w["nthreads"]),
        "sumOfSquares": sum(squares),
        "arraySum": int(array_sum),
        "workerPids": sorted(client.run(os.getpid).values()),
    }))
`;

/** A cluster on loopback: one temporary folder holding a run dir per node, and its own ports. */
class LoopbackCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-dask-"));
  private constructor(
    readonly port: number,
    readonly dashboardPort: number,
  ) {}

  static async create(): Promise<LoopbackCluster> {
    const [port, dashboardPort] = await freePorts(2);
    const cluster = new LoopbackCluster(port, dashboardPort);
    clusters.push(cluster);
    return cluster;
  }

  runDir(node: string): string {
    return path.join(this.dir, node);
  }

  /** A node's environment, as Databricks and the cluster's Spark env vars would set it; `undefined` unsets. */
  env(node: string, role: Role, extra: Env = {}): NodeJS.ProcessEnv {
    const env: Env = {
      PATH: process.env.PATH,
      DB_IS_DRIVER: role === "driver" ? "TRUE" : "FALSE",
      DB_DRIVER_IP: "127.0.0.1",
      DB_CLUSTER_ID: "0101-000000-loopback",
      DCS_DASK_PYTHON: SYSTEM_PYTHON,
      DCS_DASK_RUN_DIR: this.runDir(node),
      DCS_DASK_SCHEDULER_PORT: String(this.port),
      DCS_DASK_DASHBOARD_PORT: String(this.dashboardPort),
      DCS_DASK_WORKER_THREADS: "1",
      DCS_DASK_WORKER_MEMORY: "512MiB",
      DCS_DASK_CONNECT_BACKOFF_MAX: "1",
      ...extra,
    };
    return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  }

  /** Runs the init script as this node. */
  start(node: string, role: Role, extra: Env = {}, args: string[] = []): Promise<Run> {
    return run("bash", [SCRIPT, ...args], this.env(node, role, extra));
  }

  /** The pid a node's pid file names, if it has one. */
  pid(node: string, kind: "scheduler" | "worker"): number | undefined {
    const file = path.join(this.runDir(node), `${kind}.pid`);
    return fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : undefined;
  }

  log(node: string, name = "init.log"): string {
    const file = path.join(this.runDir(node), name);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Connects a real Dask client, waits for `workers` workers, computes, and reports what it saw. */
  async compute(workers: number): Promise<Computed> {
    const r = await run(SYSTEM_PYTHON, ["-c", CLIENT_PROGRAM, `tcp://127.0.0.1:${this.port}`, String(workers)], { PATH: process.env.PATH }, 60_000);
    expect(r.code, `Dask client failed:\n${r.stderr}\nscheduler log:\n${this.log("driver", "scheduler.log")}`).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Computed;
  }

  /** Stops every process the nodes' pid files name, workers before the scheduler, then checks none is left. */
  async stop(): Promise<void> {
    const nodes = fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : [];
    const pids = (kind: "scheduler" | "worker") => nodes.map((n) => this.pid(n, kind)).filter((p): p is number => p !== undefined);
    await stopGroups(pids("worker"));
    await stopGroups(pids("scheduler"));
    const strays = liveProcessesMentioning(this.dir);
    killPids(strays.map((p) => p.pid));
    fs.rmSync(this.dir, { recursive: true, force: true });
    expect(strays.map((p) => p.cmdline), "processes left running after the pid files' groups were stopped").toEqual([]);
  }
}

const clusters: LoopbackCluster[] = [];
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop();
});

/** Log lines of a run, without their timestamps. */
const steps = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ /, ""));

describe("init_script_dask.sh on a real Dask", () => {
  it("starts a scheduler on the driver and workers that join it and compute", async () => {
    const cluster = await LoopbackCluster.create();
    const driver = await cluster.start("driver", "driver");
    expect(driver.code, driver.stderr).toBe(0);
    expect(steps(driver.stdout)).toEqual([
      `dcs-dask driver: cluster 0101-000000-loopback: configuring Dask on this driver (run dir ${cluster.runDir("driver")}, python ${SYSTEM_PYTHON})`,
      `dcs-dask driver: starting the scheduler on port ${cluster.port} with the dashboard on port ${cluster.dashboardPort} (log ${cluster.runDir("driver")}/scheduler.log)`,
      `dcs-dask driver: scheduler started (pid ${cluster.pid("driver", "scheduler")}); clients connect to tcp://127.0.0.1:${cluster.port} or use ${cluster.runDir("driver")}/scheduler.json`,
    ]);
    // Every step is in the run dir's log too.
    expect(steps(cluster.log("driver"))).toEqual(steps(driver.stdout));

    // worker-1 with sizes from the variables, worker-2 sized from the node.
    const sized = await cluster.start("worker-1", "worker");
    const derived = await cluster.start("worker-2", "worker", { DCS_DASK_WORKER_THREADS: undefined, DCS_DASK_WORKER_MEMORY: undefined });
    for (const w of [sized, derived]) {
      expect(w.code, w.stderr).toBe(0);
      expect(w.stdout).toMatch(/starting the worker in the background: it waits for the scheduler at tcp:\/\/127\.0\.0\.1:\d+, then joins/);
    }

    const seen = await cluster.compute(2);
    expect(seen.sumOfSquares).toBe(328350);
    expect(seen.arraySum).toBe(1_000_000);
    // Both workers ran tasks, as processes the scripts left behind (the scripts have exited).
    expect(new Set(seen.workerPids).size).toBe(2);

    const cores = Number(spawnSync("nproc", { env: { PATH: process.env.PATH } }).stdout.toString());
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1]) * 1024;
    const derivedMiB = Number(/joining as a worker with \d+ threads and memory limit (\d+)MiB/.exec(cluster.log("worker-2"))?.[1]);
    expect(derivedMiB * 1024 * 1024).toBeLessThanOrEqual(memTotal / 2);
    expect(derivedMiB).toBeGreaterThan(0);
    expect(seen.workers).toEqual(
      [
        { nthreads: 1, memoryLimit: 512 * 1024 * 1024 },
        { nthreads: cores, memoryLimit: derivedMiB * 1024 * 1024 },
      ].sort((a, b) => a.nthreads - b.nthreads),
    );
    expect(cluster.log("worker-1")).toMatch(/joining as a worker with 1 threads and memory limit 512MiB/);
    expect(JSON.parse(fs.readFileSync(path.join(cluster.runDir("driver"), "scheduler.json"), "utf8")).address).toMatch(new RegExp(`:${cluster.port}$`));
  }, 60_000);

  it("returns at once, leaving the waiting worker running in a session of its own", async () => {
    const cluster = await LoopbackCluster.create();
    // No scheduler: waiting would take minutes (60 attempts, pauses up to 5 s).
    const worker = await cluster.start("worker-1", "worker", { DCS_DASK_CONNECT_RETRIES: "60", DCS_DASK_CONNECT_BACKOFF_MAX: "5" });
    expect(worker.code, worker.stderr).toBe(0);
    // Generous on purpose: this catches a script that waits, not a slow machine.
    expect(worker.ms).toBeLessThan(5_000);
    const pid = cluster.pid("worker-1", "worker")!;
    const launcher = liveProcess(pid);
    expect(launcher, "the worker launcher outlives the script").toBeDefined();
    expect(launcher?.sid).toBe(pid);
    // (nohup may not have exec'd bash yet: same pid, and the same arguments follow it.)
    expect(launcher?.cmdline.endsWith(`bash ${cluster.runDir("worker-1")}/init_script_dask.sh --wait-then-join`)).toBe(true);
  });

  it("is idempotent: runs at once or one after the other start one scheduler and one worker", async () => {
    const cluster = await LoopbackCluster.create();
    const [first, second] = await Promise.all([cluster.start("driver", "driver"), cluster.start("driver", "driver")]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const scheduler = cluster.pid("driver", "scheduler");
    const outputs = first.stdout + second.stdout;
    expect(outputs.match(/starting the scheduler/g)).toHaveLength(1);
    expect(outputs).toContain(`scheduler already running (pid ${scheduler}); nothing to start`);

    const again = await cluster.start("driver", "driver");
    expect(again.stdout).toContain(`scheduler already running (pid ${scheduler}); nothing to start`);
    expect(cluster.pid("driver", "scheduler")).toBe(scheduler);

    await cluster.start("worker-1", "worker");
    const worker = cluster.pid("worker-1", "worker");
    const workerAgain = await cluster.start("worker-1", "worker");
    expect(workerAgain.stdout).toContain(`worker already running or waiting for the scheduler (pid ${worker}); nothing to start`);

    expect((await cluster.compute(1)).workers).toHaveLength(1);
    const schedulers = liveProcessesMentioning(cluster.runDir("driver")).filter((p) => p.cmdline.includes("dask_scheduler"));
    expect(schedulers.map((p) => p.pid)).toEqual([scheduler]);
  }, 60_000);

  it("starts again when the pid file names a process that is not ours", async () => {
    const cluster = await LoopbackCluster.create();
    fs.mkdirSync(cluster.runDir("driver"));
    // A live pid, but not a scheduler of this run dir (say, recycled after a restart): this test runner.
    fs.writeFileSync(path.join(cluster.runDir("driver"), "scheduler.pid"), `${process.pid}\n`);
    const r = await cluster.start("driver", "driver");
    expect(r.stdout).toContain("starting the scheduler");
    expect(cluster.pid("driver", "scheduler")).not.toBe(process.pid);
  });

  it("lets a worker started before the scheduler join once the scheduler is up", async () => {
    const cluster = await LoopbackCluster.create();
    const early = await cluster.start("worker-1", "worker");
    expect(early.code, early.stderr).toBe(0);
    await waitFor("the worker to retry", () => /not answering yet \(attempt 2 of 60\); next attempt in 0\.500s/.test(cluster.log("worker-1")));
    expect(cluster.log("worker-1")).toMatch(/attempt 1 of 60\); next attempt in 0\.250s/);
    await cluster.start("driver", "driver");
    expect((await cluster.compute(1)).workers).toEqual([{ nthreads: 1, memoryLimit: 512 * 1024 * 1024 }]);
    expect(cluster.log("worker-1")).toMatch(/scheduler answers \(attempt \d+\); joining as a worker/);
  }, 60_000);

  it("gives up after the configured number of attempts, saying what to check", async () => {
    const cluster = await LoopbackCluster.create();
    await cluster.start("worker-1", "worker", { DCS_DASK_CONNECT_RETRIES: "3" });
    const pid = cluster.pid("worker-1", "worker")!;
    await waitFor("the worker launcher to give up", () => liveProcess(pid) === undefined, 20_000);
    const message = `error: the scheduler at tcp://127.0.0.1:${cluster.port} did not answer after 3 attempts; check the driver's ${cluster.runDir("worker-1")}/scheduler.log, or raise DCS_DASK_CONNECT_RETRIES`;
    expect(cluster.log("worker-1")).toContain(message);
    expect(cluster.log("worker-1", "worker.log")).toContain(message);
    // Pauses double from 0.25 s up to the maximum (1 s here).
    expect(cluster.log("worker-1").match(/next attempt in [\d.]+s/g)).toEqual(["next attempt in 0.250s", "next attempt in 0.500s"]);
  }, 30_000);
});

describe("init_script_dask.sh misconfigured", () => {
  const pythonDir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-python-"));
  afterAll(() => fs.rmSync(pythonDir, { recursive: true, force: true }));
  const noDistributed = path.join(pythonDir, "python");
  fs.writeFileSync(noDistributed, "#!/bin/sh\n# A Python without distributed: every import fails.\nexit 1\n", { mode: 0o755 });

  const cases: [string, Role, Env, RegExp][] = [
    ["a worker without the driver's address", "worker", { DB_DRIVER_IP: undefined }, /DB_DRIVER_IP is not set: a worker needs the driver's address/],
    ["a scheduler port that is no number", "driver", { DCS_DASK_SCHEDULER_PORT: "dask" }, /DCS_DASK_SCHEDULER_PORT must be a port number \(1-65535\), got 'dask'/],
    ["a dashboard port out of range", "driver", { DCS_DASK_DASHBOARD_PORT: "70000" }, /DCS_DASK_DASHBOARD_PORT must be a port number \(1-65535\), got '70000'/],
    ["the same port twice", "driver", { DCS_DASK_SCHEDULER_PORT: "18786", DCS_DASK_DASHBOARD_PORT: "18786" }, /DCS_DASK_DASHBOARD_PORT must differ from DCS_DASK_SCHEDULER_PORT/],
    ["an interpreter that does not exist", "driver", { DCS_DASK_PYTHON: "/nonexistent/python" }, /DCS_DASK_PYTHON: '\/nonexistent\/python' is not an executable file; set DCS_DASK_PYTHON/],
    ["an interpreter without distributed", "worker", { DCS_DASK_PYTHON: noDistributed }, /DCS_DASK_PYTHON: '.*' cannot import distributed; set DCS_DASK_PYTHON/],
    ["zero worker threads", "worker", { DCS_DASK_WORKER_THREADS: "0" }, /DCS_DASK_WORKER_THREADS must be a whole number of at least 1/],
    ["a memory limit that is no size", "worker", { DCS_DASK_WORKER_MEMORY: "lots" }, /DCS_DASK_WORKER_MEMORY must be auto, a size such as 8GiB or a fraction such as 0\.5/],
    ["retries that are no number", "worker", { DCS_DASK_CONNECT_RETRIES: "many" }, /DCS_DASK_CONNECT_RETRIES must be a whole number of at least 1, got 'many'/],
    ["no pause between attempts", "worker", { DCS_DASK_CONNECT_BACKOFF_MAX: "0" }, /DCS_DASK_CONNECT_BACKOFF_MAX must be a whole number of seconds, at least 1/],
    ["a relative run dir", "driver", { DCS_DASK_RUN_DIR: "dask" }, /DCS_DASK_RUN_DIR must be an absolute path, got 'dask'/],
    ["a run dir that cannot be created", "driver", { DCS_DASK_RUN_DIR: "/proc/dcs-dask-cannot-exist" }, /DCS_DASK_RUN_DIR: cannot write to '\/proc\/dcs-dask-cannot-exist'; set DCS_DASK_RUN_DIR/],
  ];

  it.each(cases)("fails on %s, naming the variable to set", async (_title, role, extra, message) => {
    const cluster = await LoopbackCluster.create();
    const r = await cluster.start("node", role, extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
    expect(cluster.pid("node", "scheduler")).toBeUndefined();
    expect(cluster.pid("node", "worker")).toBeUndefined();
  });

  it("fails on a scheduler port another process already holds", async () => {
    const cluster = await LoopbackCluster.create();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(cluster.port, "127.0.0.1", resolve));
    try {
      const r = await cluster.start("driver", "driver");
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`port ${cluster.port} is already in use on this node .*; set DCS_DASK_SCHEDULER_PORT to a free port`));
      expect(cluster.pid("driver", "scheduler")).toBeUndefined();
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("fails on an argument it does not know, and explains itself with --help", async () => {
    const cluster = await LoopbackCluster.create();
    const r = await cluster.start("driver", "driver", {}, ["--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown argument '--bogus'/);
    const help = await cluster.start("driver", "driver", {}, ["--help"]);
    expect(help.code).toBe(0);
    for (const name of ["DCS_DASK_SCHEDULER_PORT", "DCS_DASK_CONNECT_BACKOFF_MAX", "DB_DRIVER_IP"]) expect(help.stdout).toContain(name);
  });
});

describe("init_script_dask.sh as a file", () => {
  const text = fs.readFileSync(SCRIPT, "utf8");
  const variables = [...new Set(text.match(/\bDCS_DASK_[A-Z_]+\b/g))].sort();

  it("passes shellcheck, as does its benchmark", () => {
    const r = spawnSync("shellcheck", [SCRIPT, path.join(ROOT, "scripts", "bench-init.sh")]);
    expect(r.error, "shellcheck must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
  });

  it("is what the uploader takes: an executable bash script with strict mode", () => {
    expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toMatch(/^set -euo pipefail$/m);
  });

  it("reads exactly the documented variables, and every variable the stack sets", () => {
    expect(variables).toEqual([
      "DCS_DASK_CONNECT_BACKOFF_MAX",
      "DCS_DASK_CONNECT_RETRIES",
      "DCS_DASK_DASHBOARD_PORT",
      "DCS_DASK_PYTHON",
      "DCS_DASK_RUN_DIR",
      "DCS_DASK_SCHEDULER_PORT",
      "DCS_DASK_WORKER_MEMORY",
      "DCS_DASK_WORKER_THREADS",
    ]);
    const readme = fs.readFileSync(README, "utf8");
    for (const name of [...variables, "DB_IS_DRIVER", "DB_DRIVER_IP", "DB_CLUSTER_ID"]) expect(readme).toContain(`\`${name}\``);
    const fromStack = daskEnvVars({ schedulerPort: 8786, dashboardPort: 8787, connectRetries: 60, workerThreads: 4, workerMemory: "8GiB" });
    for (const name of Object.keys(fromStack)) expect(variables).toContain(name);
  });
});
