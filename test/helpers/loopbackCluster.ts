/**
 * A Dask cluster on loopback, started the way a Databricks cluster starts it:
 * the init script on each node (driver first), each node with a run dir of its
 * own, stopped with the script's --stop. Shared by the tests of the client
 * helper and the smoke job.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import { groupMembers, killPids, liveProcessesMentioning, ROOT, run, SYSTEM_PYTHON } from "./processes";

export const INIT_SCRIPT = path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh");

export class LoopbackCluster {
  readonly dir: string;
  private readonly started: { node: string; env: NodeJS.ProcessEnv }[] = [];
  constructor(
    parent: string,
    readonly port: number,
    readonly dashboardPort: number,
  ) {
    this.dir = fs.mkdtempSync(path.join(parent, "cluster-"));
  }

  runDir(node: string): string {
    return path.join(this.dir, node);
  }

  /** The Spark env vars a cluster of the stack sets, for this loopback cluster. */
  daskVars(node: string): Record<string, string> {
    return { DB_DRIVER_IP: "127.0.0.1", DCS_DASK_RUN_DIR: this.runDir(node), DCS_DASK_SCHEDULER_PORT: String(this.port), DCS_DASK_DASHBOARD_PORT: String(this.dashboardPort) };
  }

  async start(node: string, driver: boolean): Promise<void> {
    const env = {
      PATH: process.env.PATH,
      DB_IS_DRIVER: driver ? "TRUE" : "FALSE",
      DCS_DASK_PYTHON: SYSTEM_PYTHON,
      DCS_DASK_WORKER_THREADS: "1",
      DCS_DASK_WORKER_MEMORY: "512MiB",
      DCS_DASK_CONNECT_BACKOFF_MAX: "1",
      ...this.daskVars(node),
    };
    const r = await run("bash", [INIT_SCRIPT], env);
    expect(r.code, r.stderr).toBe(0);
    this.started.push({ node, env });
  }

  /** True once the node's worker has registered with the scheduler (its own log says so). */
  registered(node: string): boolean {
    const log = path.join(this.runDir(node), "logs", "dask-worker.log");
    return fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("Registered to:");
  }

  /** Workers first, then the driver; then nothing of theirs may be left. */
  async stop(): Promise<void> {
    const supervisors = this.started.map(({ node }) => Number(fs.readFileSync(path.join(this.runDir(node), "supervisor.pid"), "utf8")));
    for (const { env } of [...this.started].reverse()) await run("bash", [INIT_SCRIPT, "--stop"], env, 60_000);
    const left = [...supervisors.flatMap((pgid) => groupMembers(pgid)), ...liveProcessesMentioning(this.dir)];
    killPids(left.map((p) => p.pid));
    expect(left.map((p) => p.cmdline), "processes left running after --stop").toEqual([]);
  }
}
