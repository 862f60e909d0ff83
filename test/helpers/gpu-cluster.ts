/**
 * A loopback Dask cluster for the GPU branch and the single-node mode of
 * infra/init-scripts/init_script_dask.sh, on a machine with no GPU: the script
 * runs for real with Debian's Dask, and finds two stand-ins that the test puts
 * in its way (copied from test/fixtures/gpu into the cluster's temporary folder):
 * - bin/nvidia-smi, a stand-in for NVIDIA's tool, first on PATH: it reports
 *   FAKE_GPUS GPUs named FAKE_GPU_NAME with driver FAKE_NVIDIA_DRIVER;
 * - site/dask_cuda, a stand-in for dask-cuda's CLI on PYTHONPATH, reached as
 *   `python -m dask cuda worker` through dask's `dask_cli` entry points: it
 *   writes its arguments and CUDA_VISIBLE_DEVICES to a record file, then runs
 *   one plain distributed worker per device.
 * Neither is NVIDIA's or RAPIDS' code; what only a GPU cluster proves is in
 * infra/init-scripts/README.md.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { freePorts, groupMembers, killPids, liveProcess, liveProcessesMentioning, ROOT, run, SYSTEM_PYTHON, waitFor, type Run } from "./processes";

export const INIT_SCRIPT = path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh");
const FIXTURES = path.join(ROOT, "test", "fixtures", "gpu");
export const MiB = 1024 * 1024;
/** Long enough for any recovery on a loaded machine. */
export const DEADLINE_S = 60;

export type Role = "driver" | "worker";
export type Env = Record<string, string | undefined>;
export type PidFile = "supervisor" | "worker-supervisor" | "scheduler" | "worker";

/** What the dask-cuda stand-in wrote each time it started. */
export interface CudaStart {
  argv: string[];
  pid: number;
  CUDA_VISIBLE_DEVICES: string;
}

/** The workers a Dask client saw, each after running a task. */
export interface Seen {
  workers: { nthreads: number; memoryLimit: number; pid: number; cudaVisibleDevices: string | null }[];
  sumOfSquares: number;
}

// Connects (again and again: a worker may be restarting) until the scheduler has
// exactly `expected` workers whose pids are not all in `before`, runs tasks on each,
// and prints what it saw. Exit 1 with the last thing seen at the deadline.
const CLIENT_PROGRAM = `
import json, os, sys, time
from distributed import Client

address, expected, before, deadline = sys.argv[1], int(sys.argv[2]), set(json.loads(sys.argv[3])), time.monotonic() + float(sys.argv[4])
last = "nothing yet"
while time.monotonic() < deadline:
    try:
        with Client(address, timeout=10) as client:
            pids = client.run(os.getpid)
            if len(pids) != expected or (before and set(pids.values()) & before):
                last = f"worker pids {sorted(pids.values())}"
                time.sleep(0.2)
                continue
            squares = client.gather(client.map(lambda x: x * x, range(100)))
            devices = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
            info = client.scheduler_info()["workers"]
            print(json.dumps({
                "workers": sorted(({"nthreads": w["nthreads"], "memoryLimit": w["memory_limit"], "pid": pids[a], "cudaVisibleDevices": devices[a]} for a, w in info.items()), key=lambda w: w["pid"]),
                "sumOfSquares": sum(squares),
            }))
            sys.exit(0)
    except Exception as error:  # a worker or scheduler going away mid-call raises many kinds
        last = f"{type(error).__name__}: {error}"
    time.sleep(0.2)
print(f"gave up: {last}", file=sys.stderr)
sys.exit(1)
`;

/** The node's memory as the script reads it: MemTotal, or the cgroup limit when lower. */
export function nodeMemoryBytes(): number {
  let bytes = Number(/^MemTotal:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1]) * 1024;
  for (const file of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    const limit = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : NaN;
    if (Number.isInteger(limit) && limit > 0 && limit < bytes) bytes = limit;
  }
  return bytes;
}

export class GpuLoopbackCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-dask-gpu-"));
  /** Holds the nvidia-smi stand-in: put first on PATH unless a test removes it. */
  readonly bin = path.join(this.dir, "bin");
  /** Holds the dask_cuda stand-in package and its dist-info (entry points). */
  readonly site = path.join(this.dir, "site");
  private readonly nodes = new Map<string, { role: Role; extra: Env }>();
  private readonly supervisors = new Set<number>();

  private constructor(
    readonly port: number,
    readonly dashboardPort: number,
  ) {
    fs.cpSync(path.join(FIXTURES, "bin"), this.bin, { recursive: true });
    fs.chmodSync(path.join(this.bin, "nvidia-smi"), 0o755);
    fs.cpSync(path.join(FIXTURES, "site"), this.site, { recursive: true });
  }

  static async create(): Promise<GpuLoopbackCluster> {
    const [port, dashboardPort] = await freePorts(2);
    return new GpuLoopbackCluster(port, dashboardPort);
  }

  runDir(node: string): string {
    return path.join(this.dir, node);
  }

  /** The file the dask-cuda stand-in of a node writes to. */
  recordFile(node: string): string {
    return path.join(this.dir, `${node}.dask-cuda.jsonl`);
  }

  /** A node's environment: Databricks' variables, the stack's, the stand-ins'; `undefined` unsets. */
  env(node: string, role: Role, extra: Env = {}): NodeJS.ProcessEnv {
    const env: Env = {
      PATH: `${this.bin}:${process.env.PATH}`,
      PYTHONPATH: this.site,
      PYTHONDONTWRITEBYTECODE: "1",
      FAKE_DASK_CUDA_RECORD: this.recordFile(node),
      DB_IS_DRIVER: role === "driver" ? "TRUE" : "FALSE",
      DB_DRIVER_IP: "127.0.0.1",
      DB_CLUSTER_ID: "0101-000000-loopgpu",
      DCS_DASK_PYTHON: SYSTEM_PYTHON,
      DCS_DASK_RUN_DIR: this.runDir(node),
      DCS_DASK_SCHEDULER_PORT: String(this.port),
      DCS_DASK_DASHBOARD_PORT: String(this.dashboardPort),
      DCS_DASK_WORKER_THREADS: "1",
      DCS_DASK_WORKER_MEMORY: "256MiB",
      DCS_DASK_CONNECT_BACKOFF_MAX: "1",
      ...extra,
    };
    return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  }

  /** Runs the init script as this node. */
  async start(node: string, role: Role, extra: Env = {}): Promise<Run> {
    if (!this.nodes.has(node)) this.nodes.set(node, { role, extra });
    const r = await run("bash", [INIT_SCRIPT], this.env(node, role, extra));
    for (const kind of ["supervisor", "worker-supervisor"] as const) {
      const pid = this.pid(node, kind);
      if (pid !== undefined) this.supervisors.add(pid);
    }
    return r;
  }

  /** `init_script_dask.sh --stop` as this node, with the environment it was started with. */
  stopNode(node: string): Promise<Run> {
    const { role, extra } = this.nodes.get(node) ?? { role: "worker" as Role, extra: {} };
    return run("bash", [INIT_SCRIPT, "--stop"], this.env(node, role, extra), 60_000);
  }

  /** The pid a node's pid file names, if it has one. */
  pid(node: string, kind: PidFile): number | undefined {
    const file = path.join(this.runDir(node), `${kind}.pid`);
    return fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : undefined;
  }

  /** Waits until the node's pid file for `kind` names a live process other than `not`, and returns it. */
  async livePid(node: string, kind: PidFile, not?: number): Promise<number> {
    let pid: number | undefined;
    await waitFor(`a live ${kind} on ${node}`, () => (pid = this.pid(node, kind)) !== undefined && pid !== not && liveProcess(pid) !== undefined, DEADLINE_S * 1000);
    return pid!;
  }

  /** The command line of the process a node's pid file names. */
  cmdline(node: string, kind: PidFile): string | undefined {
    const pid = this.pid(node, kind);
    return pid === undefined ? undefined : liveProcess(pid)?.cmdline;
  }

  log(node: string, name = "dask-init.log"): string {
    const file = path.join(this.runDir(node), "logs", name);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Every start of the dask-cuda stand-in on a node, in order. */
  cudaStarts(node: string): CudaStart[] {
    const file = this.recordFile(node);
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as CudaStart);
  }

  /** A Dask client waits for `workers` workers (not all of them in `before`), runs tasks on them, and says what it saw. */
  async compute(workers: number, before: number[] = []): Promise<Seen> {
    const args = ["-c", CLIENT_PROGRAM, `tcp://127.0.0.1:${this.port}`, String(workers), JSON.stringify(before), String(DEADLINE_S)];
    const r = await run(SYSTEM_PYTHON, args, { PATH: process.env.PATH }, (DEADLINE_S + 30) * 1000);
    const logs = [...this.nodes.keys()].map((n) => `${n}'s dask-init.log:\n${this.log(n)}\n${n}'s dask-worker.log (tail):\n${this.log(n, "dask-worker.log").slice(-2000)}`).join("\n");
    expect(r.code, `Dask client failed:\n${r.stderr}\n${logs}`).toBe(0);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Seen;
    expect(seen.sumOfSquares).toBe(328350);
    return seen;
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
