/**
 * infra/init-scripts/init_script_dask.sh, run for real with a real Dask
 * (Debian's python3-distributed under /usr/bin/python3): a driver and workers
 * on 127.0.0.1, each node with its own run dir as on separate machines, and a
 * Dask client that computes on them. Faults are real too: a scheduler or a
 * worker killed with SIGKILL, a supervisor killed under its scheduler.
 *
 * Every node a test starts is stopped with the script's own `--stop`, workers
 * before the scheduler, also when the test fails; a test then fails if any
 * process of a supervisor's session, or naming its folder, is still running.
 * Nothing here measures time: waits poll with generous deadlines, and how fast
 * the cluster starts and recovers is measured by scripts/bench-init.sh.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { daskEnvVars } from "../stacks/dask";
import { clientProgram, INIT_SCRIPT, InitScriptCluster, MiB, nodeMemoryBytes, steps, stopAfterEach, type Env, type Role } from "./helpers/init-script-cluster";
import { freePorts, groupMembers, liveProcess, liveProcessesMentioning, ROOT, SYSTEM_PYTHON, waitFor } from "./helpers/processes";

const README = path.join(ROOT, "infra", "init-scripts", "README.md");
/** Long enough for any recovery on a loaded machine; the benchmark holds the real targets. */
const RECOVERY_DEADLINE_S = 90;

/** What a Dask client saw on the cluster; see `LoopbackCluster.compute`. */
interface Computed {
  workers: { nthreads: number; memoryLimit: number }[];
  sumOfSquares: number;
  arraySum: number;
  /** One task pinned to each worker, in worker order: i * i. */
  perWorker: number[];
  workerPids: number[];
}

// Once the scheduler has the workers (not all of them in `before`): computes on every one of them.
const CLIENT_PROGRAM = clientProgram(
  `
import dask.array as da

def report(client, pids):
    squares = client.gather(client.map(lambda x: x * x, range(100)))
    array_sum = da.ones((1000, 1000), chunks=(100, 100)).sum().compute()
    per_worker = client.gather([client.submit(lambda x: x * x, i, workers=[w], allow_other_workers=False, pure=False) for i, w in enumerate(sorted(pids))])
    workers = client.scheduler_info()["workers"].values()
    return {
        "workers": sorted(({"nthreads": w["nthreads"], "memoryLimit": w["memory_limit"]} for w in workers), key=lambda w: (w["nthreads"], w["memoryLimit"])),
        "sumOfSquares": sum(squares),
        "arraySum": int(array_sum),
        "perWorker": per_worker,
        "workerPids": sorted(pids.values()),
    }
`,
  "some",
);

const stoppedAfterTest = stopAfterEach(180_000);

/** The init script's loopback cluster (test/helpers/init-script-cluster.ts), stopped after each test. */
class LoopbackCluster extends InitScriptCluster {
  static async create(): Promise<LoopbackCluster> {
    const [port, dashboardPort] = await freePorts(2);
    return stoppedAfterTest(new LoopbackCluster(port, dashboardPort, { prefix: "dcs-dask-", clusterId: "0101-000000-loopback", workerMemory: "512MiB", deadlineS: RECOVERY_DEADLINE_S }));
  }

  /**
   * Connects a real Dask client until the scheduler has `workers` workers (whose
   * pids are not all in `before`), computes on every one, and reports what it saw.
   */
  async compute(workers: number, before: number[] = []): Promise<Computed> {
    const seen = await this.runClient<Computed>(CLIENT_PROGRAM, workers, before, () => `driver's dask-init.log:\n${this.log("driver")}`);
    expect(seen.perWorker).toEqual([...Array(workers).keys()].map((i) => i * i));
    return seen;
  }
}

const cores = Number(spawnSync("nproc", { env: { PATH: process.env.PATH } }).stdout.toString());

describe("init_script_dask.sh on a real Dask", () => {
  it("starts a supervised scheduler and workers that join it and compute, sized from the node's share, logging where it is told", async () => {
    const cluster = await LoopbackCluster.create();
    const driverLogs = path.join(cluster.dir, "delivered", "driver");
    const driver = await cluster.start("driver", "driver", { DCS_DASK_LOG_DIR: driverLogs });
    expect(driver.code, driver.stderr).toBe(0);
    const supervisor = cluster.pid("driver", "supervisor");
    expect(steps(driver.stdout)).toEqual([
      `dcs-dask driver: cluster 0101-000000-loopback: configuring Dask on this driver (run dir ${cluster.runDir("driver")}, logs ${driverLogs}, python ${SYSTEM_PYTHON})`,
      `dcs-dask driver: starting the supervisor of the scheduler in the background (logs in ${driverLogs}: dask-init.log, dask-scheduler.log)`,
      `dcs-dask driver: supervisor started (pid ${supervisor}); clients connect to tcp://127.0.0.1:${cluster.port} or use ${cluster.runDir("driver")}/scheduler.json; dashboard on port ${cluster.dashboardPort}`,
    ]);

    // worker-1 sized by the variables; worker-2 by the default share of the node (half); worker-3 by a share of 1.
    const sized = await cluster.start("worker-1", "worker");
    const half = await cluster.start("worker-2", "worker", { DCS_DASK_WORKER_THREADS: undefined, DCS_DASK_WORKER_MEMORY: undefined });
    const whole = await cluster.start("worker-3", "worker", { DCS_DASK_WORKER_THREADS: undefined, DCS_DASK_WORKER_MEMORY: undefined, DCS_DASK_NODE_FRACTION: "1" });
    for (const w of [sized, half, whole]) {
      expect(w.code, w.stderr).toBe(0);
      expect(w.stdout).toMatch(/supervisor started \(pid \d+\); the worker joins tcp:\/\/127\.0\.0\.1:\d+ once it answers/);
    }

    const seen = await cluster.compute(3);
    expect(seen.sumOfSquares).toBe(328350);
    expect(seen.arraySum).toBe(1_000_000);
    // Three workers ran tasks, as processes the scripts left behind (the scripts have exited).
    expect(new Set(seen.workerPids).size).toBe(3);

    const memory = nodeMemoryBytes();
    const mib = (share: number) => Math.floor((memory * share) / MiB) * MiB;
    expect(seen.workers).toEqual(
      [
        { nthreads: 1, memoryLimit: 512 * MiB },
        { nthreads: Math.max(1, Math.floor(cores / 2)), memoryLimit: mib(0.5) },
        { nthreads: cores, memoryLimit: mib(1) },
      ].sort((a, b) => a.nthreads - b.nthreads || a.memoryLimit - b.memoryLimit),
    );
    expect(cluster.log("worker-1")).toMatch(/joining as a worker with 1 threads and memory limit 512MiB/);

    // The scheduler file names the scheduler; the supervisor runs the scheduler in its own session.
    expect(JSON.parse(fs.readFileSync(path.join(cluster.runDir("driver"), "scheduler.json"), "utf8")).address).toMatch(new RegExp(`:${cluster.port}$`));
    const scheduler = liveProcess(cluster.pid("driver", "scheduler")!);
    expect(scheduler?.cmdline).toContain("distributed.cli.dask_scheduler");
    expect(scheduler?.sid).toBe(supervisor);
    // Logs went where DCS_DASK_LOG_DIR said, and by default to <run dir>/logs.
    expect(fs.readdirSync(driverLogs).sort()).toEqual(["dask-init.log", "dask-scheduler.log"]);
    expect(cluster.log("driver", "dask-scheduler.log")).toContain("Scheduler at:");
    // Every step of the script is in dask-init.log too (the supervisor's own lines interleave).
    expect(steps(cluster.log("driver")).filter((l) => steps(driver.stdout).includes(l))).toEqual(steps(driver.stdout));
    expect(fs.existsSync(path.join(cluster.runDir("driver"), "logs"))).toBe(false);
    expect(cluster.log("worker-2", "dask-worker.log")).toContain("Registered to:");
    expect(fs.readdirSync(path.join(cluster.runDir("worker-2"), "worker-space"))).not.toEqual([]);
  }, 120_000);

  it("returns while its supervisor keeps waiting for the scheduler in a session of its own, and keeps trying past DCS_DASK_CONNECT_RETRIES", async () => {
    const cluster = await LoopbackCluster.create();
    const early = await cluster.start("worker-1", "worker", { DCS_DASK_CONNECT_RETRIES: "3" });
    expect(early.code, early.stderr).toBe(0);
    const supervisor = cluster.pid("worker-1", "supervisor")!;
    const process_ = liveProcess(supervisor);
    expect(process_?.sid, "the supervisor leads a session of its own").toBe(supervisor);
    // It becomes bash running the run dir's copy: setsid and nohup exec in turn under the same pid,
    // so right after the script returns the pid may still show one of them (or, mid-exec, nothing).
    const launcher = `bash ${cluster.runDir("worker-1")}/init_script_dask.sh --supervise`;
    await waitFor("the supervisor to run the run dir's copy", () => liveProcess(supervisor)?.cmdline.endsWith(launcher) === true, 10_000);

    // The script has returned; the supervisor waits: pauses double from 0.25 s to the maximum (1 s
    // here), it says the scheduler is overdue at the third attempt, and it goes on trying.
    await waitFor("the fifth attempt", () => /not answering yet \(attempt 5\)/.test(cluster.log("worker-1")), 30_000);
    const log = cluster.log("worker-1");
    expect(log.match(/next attempt in [\d.]+s/g)?.slice(0, 4)).toEqual(["next attempt in 0.250s", "next attempt in 0.500s", "next attempt in 1.000s", "next attempt in 1.000s"]);
    expect(log).toContain(
      `the scheduler at tcp://127.0.0.1:${cluster.port} is overdue: no answer after 3 attempts; still trying every 1s. Check the driver's dask-scheduler.log and dask-init.log (DCS_DASK_CONNECT_RETRIES sets when this is said)`,
    );
    expect(log.indexOf("overdue")).toBeLessThan(log.indexOf("(attempt 3)"));
    expect(log).not.toContain("error");
    expect(cluster.pid("worker-1", "worker"), "no worker before the scheduler answers").toBeUndefined();

    await cluster.start("driver", "driver");
    expect((await cluster.compute(1)).workers).toEqual([{ nthreads: 1, memoryLimit: 512 * MiB }]);
    expect(cluster.log("worker-1")).toMatch(/scheduler answers \(attempt \d+\)\n.*joining as a worker/);
    expect(cluster.pid("worker-1", "supervisor")).toBe(supervisor);
  }, 120_000);

  it("is idempotent: runs at once or one after the other start one supervisor and one scheduler or worker", async () => {
    const cluster = await LoopbackCluster.create();
    const [first, second] = await Promise.all([cluster.start("driver", "driver"), cluster.start("driver", "driver")]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const supervisor = cluster.pid("driver", "supervisor");
    const outputs = first.stdout + second.stdout;
    expect(outputs.match(/starting the supervisor/g)).toHaveLength(1);
    expect(outputs).toContain(`supervisor already running (pid ${supervisor}); nothing to start`);

    const again = await cluster.start("driver", "driver");
    expect(again.stdout).toContain(`supervisor already running (pid ${supervisor}); nothing to start`);
    expect(cluster.pid("driver", "supervisor")).toBe(supervisor);

    const [w1, w2] = await Promise.all([cluster.start("worker-1", "worker"), cluster.start("worker-1", "worker")]);
    expect((w1.stdout + w2.stdout).match(/starting the supervisor/g)).toHaveLength(1);
    expect((await cluster.compute(1)).workers).toHaveLength(1);
    expect(cluster.daskProcesses("driver").schedulers).toHaveLength(1);
    expect(cluster.daskProcesses("worker-1").workers).toHaveLength(1);
  }, 120_000);

  it("starts again when the pid file names a process that is not ours", async () => {
    const cluster = await LoopbackCluster.create();
    fs.mkdirSync(cluster.runDir("driver"));
    // A live pid, but not a supervisor of this run dir (say, recycled after a restart): this test runner.
    fs.writeFileSync(path.join(cluster.runDir("driver"), "supervisor.pid"), `${process.pid}\n`);
    const r = await cluster.start("driver", "driver");
    expect(r.stdout).toContain("starting the supervisor");
    expect(cluster.pid("driver", "supervisor")).not.toBe(process.pid);
  });

  it("brings the cluster back to two computing workers after the scheduler is killed (SIGKILL)", async () => {
    const cluster = await LoopbackCluster.create();
    await cluster.start("driver", "driver");
    await cluster.start("worker-1", "worker");
    await cluster.start("worker-2", "worker");
    await cluster.compute(2);
    const supervisor = cluster.pid("driver", "supervisor");
    const scheduler = cluster.pid("driver", "scheduler")!;

    process.kill(scheduler, "SIGKILL");
    const seen = await cluster.compute(2);
    expect(seen.sumOfSquares).toBe(328350);

    const restarted = await cluster.livePid("driver", "scheduler", scheduler);
    expect(restarted).not.toBe(scheduler);
    expect(cluster.pid("driver", "supervisor"), "the same supervisor").toBe(supervisor);
    expect(cluster.daskProcesses("driver").schedulers).toEqual([restarted]);
    expect(cluster.log("driver")).toMatch(/the scheduler exited with status 137 \(killed by signal 9\) after \d+ s; starting it again in 1\.000s/);
    // The scheduler file is written again by the new scheduler.
    expect(JSON.parse(fs.readFileSync(path.join(cluster.runDir("driver"), "scheduler.json"), "utf8")).address).toMatch(new RegExp(`:${cluster.port}$`));
    // Each worker lost its scheduler, ended, and was started again by its supervisor.
    for (const node of ["worker-1", "worker-2"]) {
      expect(cluster.log(node)).toMatch(/the worker exited with status \d+ after \d+ s \(a worker also ends when it loses the scheduler\); starting it again/);
      expect(cluster.daskProcesses(node).workers).toHaveLength(1);
    }
  }, 180_000);

  it("brings a worker killed with SIGKILL back, and a second run of the init script starts nothing twice", async () => {
    const cluster = await LoopbackCluster.create();
    await cluster.start("driver", "driver");
    await cluster.start("worker-1", "worker");
    await cluster.start("worker-2", "worker");
    const before = await cluster.compute(2);
    const supervisors = ["driver", "worker-1", "worker-2"].map((n) => cluster.pid(n, "supervisor"));
    const worker = cluster.pid("worker-1", "worker")!;

    process.kill(worker, "SIGKILL");
    // Two workers compute again, and not the same two processes as before.
    await cluster.compute(2, before.workerPids);
    const restarted = await cluster.livePid("worker-1", "worker", worker);
    expect(liveProcess(worker)).toBeUndefined();
    expect(cluster.log("worker-1")).toMatch(/the worker exited with status 137 \(killed by signal 9\) after \d+ s .*; starting it again in 1\.000s/);

    // The init script runs again on every node while all is supervised: nothing new starts.
    for (const [node, role] of [["driver", "driver"], ["worker-1", "worker"], ["worker-2", "worker"]] as const) {
      const r = await cluster.start(node, role);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`supervisor already running (pid ${cluster.pid(node, "supervisor")}); nothing to start`);
      expect(r.stdout).not.toContain("starting");
    }
    expect(["driver", "worker-1", "worker-2"].map((n) => cluster.pid(n, "supervisor"))).toEqual(supervisors);
    expect(cluster.pid("worker-1", "worker")).toBe(restarted);
    expect(cluster.daskProcesses("driver").schedulers).toHaveLength(1);
    for (const node of ["worker-1", "worker-2"]) expect(cluster.daskProcesses(node).workers, node).toHaveLength(1);
    expect((await cluster.compute(2)).sumOfSquares).toBe(328350);
  }, 180_000);

  it("never runs two schedulers: a run after its supervisor was killed ends the scheduler left behind first", async () => {
    const cluster = await LoopbackCluster.create();
    await cluster.start("driver", "driver");
    const orphan = await cluster.livePid("driver", "scheduler");
    process.kill(cluster.pid("driver", "supervisor")!, "SIGKILL");
    await waitFor("the supervisor to be gone", () => liveProcess(cluster.pid("driver", "supervisor")!) === undefined);
    expect(liveProcess(orphan), "the scheduler outlives its supervisor").toBeDefined();

    const r = await cluster.start("driver", "driver");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`stopping the scheduler (pid ${orphan}) left running by a supervisor that is gone`);
    expect(liveProcess(orphan)).toBeUndefined();
    const scheduler = await cluster.livePid("driver", "scheduler", orphan);
    expect(cluster.daskProcesses("driver").schedulers).toEqual([scheduler]);
  }, 120_000);

  it("stops a node with --stop, on the driver even without DB_IS_DRIVER, and starts it again afterwards", async () => {
    const cluster = await LoopbackCluster.create();
    await cluster.start("driver", "driver");
    await cluster.start("worker-1", "worker");
    await cluster.compute(1);
    const workerSupervisor = cluster.pid("worker-1", "supervisor")!;
    const worker = cluster.pid("worker-1", "worker")!;

    const stopped = await cluster.stopNode("worker-1");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(steps(stopped.stdout)).toEqual([
      `dcs-dask worker: stopping the supervisor (pid ${workerSupervisor}) and its Dask process`,
      `dcs-dask worker: nothing of Dask runs from ${cluster.runDir("worker-1")}`,
    ]);
    for (const pid of [workerSupervisor, worker]) expect(liveProcess(pid)).toBeUndefined();
    expect(groupMembers(workerSupervisor)).toEqual([]);
    expect(fs.existsSync(path.join(cluster.runDir("worker-1"), "worker.pid"))).toBe(false);
    expect(cluster.log("worker-1")).toContain(`supervisor (pid ${workerSupervisor}) stopped`);
    // Stopped for good: no supervisor starts the worker again.
    expect(cluster.daskProcesses("worker-1").workers).toEqual([]);

    const driverSupervisor = cluster.pid("driver", "supervisor")!;
    const scheduler = cluster.pid("driver", "scheduler")!;
    const driverStopped = await cluster.stopNode("driver", { DB_IS_DRIVER: undefined });
    expect(driverStopped.code, driverStopped.stderr).toBe(0);
    expect(driverStopped.stdout).toContain(`dcs-dask driver: stopping the supervisor (pid ${driverSupervisor}) and its Dask process`);
    for (const pid of [driverSupervisor, scheduler]) expect(liveProcess(pid)).toBeUndefined();
    expect((await cluster.stopNode("driver")).stdout).toContain(`no supervisor running from ${cluster.runDir("driver")}`);

    const restarted = await cluster.start("driver", "driver");
    expect(restarted.stdout).toContain("starting the supervisor");
    await cluster.start("worker-1", "worker");
    expect((await cluster.compute(1)).workers).toHaveLength(1);
  }, 120_000);
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
    ["a node fraction of 0", "worker", { DCS_DASK_NODE_FRACTION: "0" }, /DCS_DASK_NODE_FRACTION must be a number above 0 and at most 1 such as 0\.5 \(or unset\), got '0'/],
    ["a node fraction above 1", "worker", { DCS_DASK_NODE_FRACTION: "1.5" }, /DCS_DASK_NODE_FRACTION must be a number above 0 and at most 1 .*, got '1\.5'/],
    ["a node fraction that is no number", "driver", { DCS_DASK_NODE_FRACTION: "half" }, /DCS_DASK_NODE_FRACTION must be a number above 0 and at most 1 .*, got 'half'/],
    ["retries that are no number", "worker", { DCS_DASK_CONNECT_RETRIES: "many" }, /DCS_DASK_CONNECT_RETRIES must be a whole number of at least 1, got 'many'/],
    ["no pause between attempts", "worker", { DCS_DASK_CONNECT_BACKOFF_MAX: "0" }, /DCS_DASK_CONNECT_BACKOFF_MAX must be a whole number of seconds, at least 1/],
    ["a relative run dir", "driver", { DCS_DASK_RUN_DIR: "dask" }, /DCS_DASK_RUN_DIR must be an absolute path, got 'dask'/],
    ["a run dir that cannot be created", "driver", { DCS_DASK_RUN_DIR: "/proc/dcs-dask-cannot-exist" }, /DCS_DASK_RUN_DIR: cannot write to '\/proc\/dcs-dask-cannot-exist'; set DCS_DASK_RUN_DIR/],
    ["a relative log dir", "worker", { DCS_DASK_LOG_DIR: "logs" }, /DCS_DASK_LOG_DIR must be an absolute path, got 'logs'/],
    ["a log dir that cannot be created", "driver", { DCS_DASK_LOG_DIR: "/proc/dcs-dask-cannot-exist" }, /DCS_DASK_LOG_DIR: cannot write to '\/proc\/dcs-dask-cannot-exist'; set DCS_DASK_LOG_DIR/],
  ];

  it.each(cases)("fails on %s, naming the variable to set", async (_title, role, extra, message) => {
    const cluster = await LoopbackCluster.create();
    const r = await cluster.start("node", role, extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
    expect(cluster.pid("node", "supervisor")).toBeUndefined();
    expect(liveProcessesMentioning(cluster.dir)).toEqual([]);
  });

  it("fails on a scheduler port another process already holds", async () => {
    const cluster = await LoopbackCluster.create();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(cluster.port, "127.0.0.1", resolve));
    try {
      const r = await cluster.start("driver", "driver");
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`port ${cluster.port} is already in use on this node .*; set DCS_DASK_SCHEDULER_PORT to a free port`));
      expect(cluster.pid("driver", "supervisor")).toBeUndefined();
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
    for (const text of ["DCS_DASK_SCHEDULER_PORT", "DCS_DASK_NODE_FRACTION", "DCS_DASK_LOG_DIR", "DB_DRIVER_IP", "--stop", "[8087]"]) expect(help.stdout).toContain(text);
  });
});

describe("init_script_dask.sh as a file", () => {
  const text = fs.readFileSync(INIT_SCRIPT, "utf8");
  const variables = [...new Set(text.match(/\bDCS_DASK_[A-Z_]+\b/g))].sort();

  it("passes shellcheck, as does its benchmark", () => {
    const r = spawnSync("shellcheck", [INIT_SCRIPT, path.join(ROOT, "scripts", "bench-init.sh")]);
    expect(r.error, "shellcheck must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
  });

  it("is what the uploader takes: an executable bash script with strict mode", () => {
    expect(fs.statSync(INIT_SCRIPT).mode & 0o111).not.toBe(0);
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toMatch(/^set -euo pipefail$/m);
  });

  it("defaults the dashboard to 8087, the port the Databricks driver proxy serves", () => {
    expect(text).toMatch(/^readonly DASHBOARD_PORT="\$\{DCS_DASK_DASHBOARD_PORT:-8087\}"$/m);
  });

  it("reads exactly the documented variables, and every variable the stack sets", () => {
    expect(variables).toEqual([
      "DCS_DASK_CONNECT_BACKOFF_MAX",
      "DCS_DASK_CONNECT_RETRIES",
      "DCS_DASK_DASHBOARD_PORT",
      "DCS_DASK_LOG_DIR",
      "DCS_DASK_NODE_FRACTION",
      "DCS_DASK_PYTHON",
      "DCS_DASK_RUN_DIR",
      "DCS_DASK_SCHEDULER_PORT",
      "DCS_DASK_WORKER_MEMORY",
      "DCS_DASK_WORKER_THREADS",
    ]);
    const readme = fs.readFileSync(README, "utf8");
    for (const name of [...variables, "DB_IS_DRIVER", "DB_DRIVER_IP", "DB_CLUSTER_ID", "DB_CONTAINER_IP"]) expect(readme).toContain(`\`${name}\``);
    const fromStack = daskEnvVars({ schedulerPort: 8786, dashboardPort: 8087, connectRetries: 60, workerThreads: 4, workerMemory: "8GiB" });
    for (const name of Object.keys(fromStack)) expect(variables).toContain(name);
  });
});
