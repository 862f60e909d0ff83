/**
 * A Dask cluster on loopback for infra/init-scripts/init_script_dask.sh, run for
 * real with a real Dask (Debian's python3-distributed under /usr/bin/python3): a
 * driver and workers on 127.0.0.1, each node with its own run dir under one
 * temporary folder as on separate machines, and ports of its own. The tests of
 * the script (test/init-script.test.ts) and of its GPU branch and single-node
 * mode (test/helpers/gpu-cluster.ts) build on it, each with a Dask client of
 * its own (see `clientProgram`).
 *
 * `stop` stops every node started with the script's own `--stop`, workers
 * before drivers, and fails if any process of a supervisor's session, or naming
 * the cluster's folder, is still running; `stopAfterEach` has that done after
 * every test, also when the test fails.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, expect } from "vitest";
import { groupMembers, killPids, liveProcess, liveProcessesMentioning, ROOT, run, SYSTEM_PYTHON, waitFor, type Run } from "./processes";

export const INIT_SCRIPT = path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh");
export const MiB = 1024 * 1024;

export type Role = "driver" | "worker";
export type Env = Record<string, string | undefined>;
/** The pid files of a run dir; worker-supervisor.pid is the driver's worker's, on a single-node cluster. */
export type PidFile = "supervisor" | "worker-supervisor" | "scheduler" | "worker";

/** Log lines of a run, without their timestamps. */
export const steps = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ /, ""));

/** The node's memory as the script sizes workers: MemTotal, or the cgroup limit when lower. */
export function nodeMemoryBytes(): number {
  let bytes = Number(/^MemTotal:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1]) * 1024;
  for (const file of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    const limit = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : NaN;
    if (Number.isInteger(limit) && limit > 0 && limit < bytes) bytes = limit;
  }
  return bytes;
}

/**
 * A Dask client program for `InitScriptCluster.runClient`. `report` is Python that
 * defines `report(client, pids)`: what to compute once the workers are there
 * (`pids` maps each worker's address to its pid), returned as something JSON can
 * print. The program connects (again and again: the scheduler or a worker may be
 * restarting) until the scheduler has exactly `expected` workers, of whose pids
 * `replaced` are not in `before` ("some": not all of them are in it; "all": none
 * is), then prints the report as one line of JSON. Exit 1 with the last thing
 * seen at the deadline.
 */
export function clientProgram(report: string, replaced: "some" | "all"): string {
  const stale = replaced === "some" ? "set(pids.values()) <= before" : "set(pids.values()) & before";
  return `
import json, os, sys, time
from distributed import Client
${report}
address, expected, before, deadline = sys.argv[1], int(sys.argv[2]), set(json.loads(sys.argv[3])), time.monotonic() + float(sys.argv[4])
last = "nothing yet"
while time.monotonic() < deadline:
    try:
        with Client(address, timeout=10) as client:
            pids = client.run(os.getpid)
            if len(pids) != expected or (before and ${stale}):
                last = f"worker pids {sorted(pids.values())}"
                time.sleep(0.2)
                continue
            print(json.dumps(report(client, pids)))
            sys.exit(0)
    except Exception as error:  # a scheduler or a worker going away mid-call raises many kinds
        last = f"{type(error).__name__}: {error}"
    time.sleep(0.2)
print(f"gave up: {last}", file=sys.stderr)
sys.exit(1)
`;
}

/** What sets one kind of loopback cluster apart. */
export interface ClusterSettings {
  /** The start of the temporary folder's name. */
  prefix: string;
  /** Every node's DB_CLUSTER_ID. */
  clusterId: string;
  /** DCS_DASK_WORKER_MEMORY, unless a test sets or unsets it. */
  workerMemory: string;
  /** How long, in seconds, a process may take to come (back), and a Dask client to see its workers. */
  deadlineS: number;
}

/** A cluster on loopback: one temporary folder holding a run dir per node, and its own ports. */
export class InitScriptCluster {
  readonly dir: string;
  /** Every node started, with its role and settings, so `stop` can stop it the same way. */
  protected readonly nodes = new Map<string, { role: Role; extra: Env }>();
  /** Every supervisor seen, so `stop` can check that nothing of its session is left. */
  private readonly supervisors = new Set<number>();

  protected constructor(
    readonly port: number,
    readonly dashboardPort: number,
    private readonly settings: ClusterSettings,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), settings.prefix));
  }

  runDir(node: string): string {
    return path.join(this.dir, node);
  }

  /** Where a node's logs are: DCS_DASK_LOG_DIR if the test set it, else the default off Databricks. */
  logDir(node: string): string {
    return this.nodes.get(node)?.extra.DCS_DASK_LOG_DIR ?? path.join(this.runDir(node), "logs");
  }

  /**
   * A node's environment, as Databricks and the cluster's Spark env vars would set it, with what
   * `nodeEnv` adds, then `extra`; `undefined` unsets.
   */
  env(node: string, role: Role, extra: Env = {}): NodeJS.ProcessEnv {
    const env: Env = {
      PATH: process.env.PATH,
      DB_IS_DRIVER: role === "driver" ? "TRUE" : "FALSE",
      DB_DRIVER_IP: "127.0.0.1",
      DB_CLUSTER_ID: this.settings.clusterId,
      DCS_DASK_PYTHON: SYSTEM_PYTHON,
      DCS_DASK_RUN_DIR: this.runDir(node),
      DCS_DASK_SCHEDULER_PORT: String(this.port),
      DCS_DASK_DASHBOARD_PORT: String(this.dashboardPort),
      DCS_DASK_WORKER_THREADS: "1",
      DCS_DASK_WORKER_MEMORY: this.settings.workerMemory,
      DCS_DASK_CONNECT_BACKOFF_MAX: "1",
      ...this.nodeEnv(node),
      ...extra,
    };
    return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  }

  /** What this kind of cluster adds to (or overrides in) every node's environment; a test's own `extra` still wins. */
  protected nodeEnv(_node: string): Env {
    return {};
  }

  /** Runs the init script as this node. */
  async start(node: string, role: Role, extra: Env = {}, args: string[] = []): Promise<Run> {
    if (!this.nodes.has(node)) this.nodes.set(node, { role, extra });
    const r = await run("bash", [INIT_SCRIPT, ...args], this.env(node, role, extra));
    for (const kind of ["supervisor", "worker-supervisor"] as const) {
      const pid = this.pid(node, kind);
      if (pid !== undefined) this.supervisors.add(pid);
    }
    return r;
  }

  /** Runs `init_script_dask.sh --stop` as this node, with the environment it was started with. */
  stopNode(node: string, extra: Env = {}): Promise<Run> {
    const { role, extra: started } = this.nodes.get(node) ?? { role: "worker" as Role, extra: {} };
    return run("bash", [INIT_SCRIPT, "--stop"], this.env(node, role, { ...started, ...extra }), 60_000);
  }

  /** The pid a node's pid file names, if it has one. */
  pid(node: string, kind: PidFile): number | undefined {
    const file = path.join(this.runDir(node), `${kind}.pid`);
    return fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : undefined;
  }

  /** Waits until the node's pid file for `kind` names a live process other than `not`, and returns it. */
  async livePid(node: string, kind: PidFile, not?: number): Promise<number> {
    let pid: number | undefined;
    await waitFor(`a live ${kind} on ${node}`, () => (pid = this.pid(node, kind)) !== undefined && pid !== not && liveProcess(pid) !== undefined, this.settings.deadlineS * 1000);
    return pid!;
  }

  /** The command line of the process a node's pid file names. */
  cmdline(node: string, kind: PidFile): string | undefined {
    const pid = this.pid(node, kind);
    return pid === undefined ? undefined : liveProcess(pid)?.cmdline;
  }

  log(node: string, name = "dask-init.log"): string {
    const file = path.join(this.logDir(node), name);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Dask processes (scheduler or worker) of a node: what its run dir's command lines name. */
  daskProcesses(node: string): { schedulers: number[]; workers: number[] } {
    const mine = liveProcessesMentioning(`${this.runDir(node)}/`);
    return {
      schedulers: mine.filter((p) => p.cmdline.includes("distributed.cli.dask_scheduler")).map((p) => p.pid),
      workers: mine.filter((p) => p.cmdline.includes("distributed.cli.dask_worker")).map((p) => p.pid),
    };
  }

  /**
   * Runs a `clientProgram` against this cluster's scheduler, waiting for `workers` workers
   * (see `before` there), and returns its report; fails with what the client said, and
   * `logs()`, when it gives up.
   */
  protected async runClient<T>(program: string, workers: number, before: number[], logs: () => string): Promise<T> {
    const { deadlineS } = this.settings;
    const args = ["-c", program, `tcp://127.0.0.1:${this.port}`, String(workers), JSON.stringify(before), String(deadlineS)];
    const r = await run(SYSTEM_PYTHON, args, { PATH: process.env.PATH }, (deadlineS + 30) * 1000);
    expect(r.code, `Dask client failed:\n${r.stderr}\n${logs()}`).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as T;
  }

  /** Stops every node with --stop, workers before drivers, then checks that nothing is left. */
  async stop(): Promise<void> {
    const order = [...this.nodes].sort(([, a], [, b]) => Number(a.role === "driver") - Number(b.role === "driver"));
    const failed: string[] = [];
    for (const [node] of order) {
      if (!fs.existsSync(this.runDir(node))) continue;
      const r = await this.stopNode(node);
      if (r.code !== 0) failed.push(`${node}: ${r.stderr}`);
    }
    const left = [...new Map([...this.supervisors].flatMap((pgid) => groupMembers(pgid)).concat(liveProcessesMentioning(this.dir)).map((p) => [p.pid, p])).values()];
    killPids(left.map((p) => p.pid));
    fs.rmSync(this.dir, { recursive: true, force: true });
    expect(failed, "init_script_dask.sh --stop failed").toEqual([]);
    expect(left.map((p) => p.cmdline), "processes left running after --stop").toEqual([]);
  }
}

/**
 * Registers, in the test file that calls it, an afterEach that stops (`InitScriptCluster.stop`)
 * every cluster the returned function was given during the test; returns that function.
 */
export function stopAfterEach(timeoutMs: number): <C extends InitScriptCluster>(cluster: C) => C {
  const clusters: InitScriptCluster[] = [];
  afterEach(async () => {
    for (const cluster of clusters.splice(0)) await cluster.stop();
  }, timeoutMs);
  return (cluster) => {
    clusters.push(cluster);
    return cluster;
  };
}
