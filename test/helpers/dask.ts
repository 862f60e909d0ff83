/**
 * Runs infra/init-scripts/init_script_dask.sh for real, as a driver or a worker
 * on loopback, and stops everything it started, by pid, workers first.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./record";

const exec = promisify(execFile);
export const INIT_SCRIPT = path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh");
/** Debian's Python with dask and distributed (the first python3 on PATH may lack them). */
export const DASK_PYTHON = "/usr/bin/python3";

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** A loopback cluster: one temporary folder, ports, and every run dir it used. */
export class LoopbackCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-dask-"));
  readonly runDirs: string[] = [];
  constructor(
    readonly port: number,
    readonly dashboardPort: number,
  ) {}

  static async create(): Promise<LoopbackCluster> {
    const port = await freePort();
    let dashboard = await freePort();
    while (dashboard === port) dashboard = await freePort();
    return new LoopbackCluster(port, dashboard);
  }

  /** Environment of a node, as Databricks and the cluster's Spark env vars would set it. */
  env(node: string, role: "driver" | "worker", extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const runDir = path.join(this.dir, node);
    if (!this.runDirs.includes(runDir)) this.runDirs.push(runDir);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DB_IS_DRIVER: role === "driver" ? "TRUE" : "FALSE",
      DB_DRIVER_IP: "127.0.0.1",
      DB_CLUSTER_ID: "0101-000000-loopback",
      DCS_DASK_PYTHON: DASK_PYTHON,
      DCS_DASK_RUN_DIR: runDir,
      DCS_DASK_SCHEDULER_PORT: String(this.port),
      DCS_DASK_DASHBOARD_PORT: String(this.dashboardPort),
      DCS_DASK_WORKER_THREADS: "1",
      DCS_DASK_WORKER_MEMORY: "512MiB",
      DCS_DASK_CONNECT_BACKOFF_MAX: "1",
      ...extra,
    };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    return env;
  }

  /** Runs the init script with a node's environment. */
  async run(node: string, role: "driver" | "worker", extra: Record<string, string | undefined> = {}): Promise<ScriptRun> {
    return runScript(this.env(node, role, extra));
  }

  /** The pid a node's pid file names. */
  pid(node: string, kind: "scheduler" | "worker"): number {
    return Number(fs.readFileSync(path.join(this.dir, node, `${kind}.pid`), "utf8").trim());
  }

  /** Asks the scheduler, from a real Dask client, for `workers` workers and a computation. */
  async compute(workers: number, timeoutSeconds = 30): Promise<{ workers: number; result: number }> {
    const program = [
      "import json, sys",
      "from distributed import Client",
      `client = Client("tcp://127.0.0.1:${this.port}", timeout=${timeoutSeconds})`,
      `client.wait_for_workers(${workers}, timeout=${timeoutSeconds})`,
      "futures = client.map(lambda x: x * x, range(100))",
      "total = client.submit(sum, futures).result()",
      "print(json.dumps({'workers': len(client.scheduler_info()['workers']), 'result': total}))",
      "client.close()",
    ].join("\n");
    const { stdout } = await exec(DASK_PYTHON, ["-c", program], { timeout: (timeoutSeconds + 15) * 1000 });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
  }

  /** Stops every process a pid file names: workers first, then the scheduler; then removes the folder. */
  stop(): void {
    const pidFiles = (name: string) => this.runDirs.map((d) => path.join(d, name)).filter((f) => fs.existsSync(f));
    for (const file of [...pidFiles("worker.pid"), ...pidFiles("scheduler.pid")]) {
      const pid = Number(fs.readFileSync(file, "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      // The script starts each process in its own session: end the whole group.
      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        try {
          process.kill(-pid, signal);
        } catch {
          /* already gone */
        }
        if (signal === "SIGTERM") spawnSync("sleep", ["0.5"]);
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs the init script with exactly this environment. */
export async function runScript(env: NodeJS.ProcessEnv): Promise<ScriptRun> {
  const start = process.hrtime.bigint();
  try {
    const { stdout, stderr } = await exec("bash", [INIT_SCRIPT], { env, timeout: 15_000 });
    return { code: 0, stdout, stderr, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  }
}

/** True while a process with this pid exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
