/**
 * A loopback Dask cluster for the GPU branch and the single-node mode of
 * infra/init-scripts/init_script_dask.sh, on a machine with no GPU: the cluster
 * of test/helpers/init-script-cluster.ts, where the script runs for real with
 * Debian's Dask and finds two stand-ins that the test puts in its way (copied
 * from test/fixtures/gpu into the cluster's temporary folder):
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
import * as path from "node:path";
import { expect } from "vitest";
import { clientProgram, InitScriptCluster, type Env } from "./init-script-cluster";
import { freePorts, ROOT } from "./processes";

const FIXTURES = path.join(ROOT, "test", "fixtures", "gpu");
/** Long enough for any recovery on a loaded machine. */
const DEADLINE_S = 60;

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

// Once the scheduler has the workers (none of them in `before`): runs tasks on each, and says what each saw.
const CLIENT_PROGRAM = clientProgram(
  `
def report(client, pids):
    squares = client.gather(client.map(lambda x: x * x, range(100)))
    devices = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
    info = client.scheduler_info()["workers"]
    return {
        "workers": sorted(({"nthreads": w["nthreads"], "memoryLimit": w["memory_limit"], "pid": pids[a], "cudaVisibleDevices": devices[a]} for a, w in info.items()), key=lambda w: w["pid"]),
        "sumOfSquares": sum(squares),
    }
`,
  "all",
);

export class GpuLoopbackCluster extends InitScriptCluster {
  /** Holds the nvidia-smi stand-in: put first on PATH unless a test removes it. */
  readonly bin = path.join(this.dir, "bin");
  /** Holds the dask_cuda stand-in package and its dist-info (entry points). */
  readonly site = path.join(this.dir, "site");

  private constructor(port: number, dashboardPort: number) {
    super(port, dashboardPort, { prefix: "dcs-dask-gpu-", clusterId: "0101-000000-loopgpu", workerMemory: "256MiB", deadlineS: DEADLINE_S });
    fs.cpSync(path.join(FIXTURES, "bin"), this.bin, { recursive: true });
    fs.chmodSync(path.join(this.bin, "nvidia-smi"), 0o755);
    fs.cpSync(path.join(FIXTURES, "site"), this.site, { recursive: true });
  }

  static async create(): Promise<GpuLoopbackCluster> {
    const [port, dashboardPort] = await freePorts(2);
    return new GpuLoopbackCluster(port, dashboardPort);
  }

  /** The file the dask-cuda stand-in of a node writes to. */
  recordFile(node: string): string {
    return path.join(this.dir, `${node}.dask-cuda.jsonl`);
  }

  /** The stand-ins: nvidia-smi first on PATH, dask_cuda on PYTHONPATH, and where the latter records. */
  protected override nodeEnv(node: string): Env {
    return {
      PATH: `${this.bin}:${process.env.PATH}`,
      PYTHONPATH: this.site,
      PYTHONDONTWRITEBYTECODE: "1",
      FAKE_DASK_CUDA_RECORD: this.recordFile(node),
    };
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

  /** A Dask client waits for `workers` workers (none of them in `before`), runs tasks on them, and says what it saw. */
  async compute(workers: number, before: number[] = []): Promise<Seen> {
    const logs = () => [...this.nodes.keys()].map((n) => `${n}'s dask-init.log:\n${this.log(n)}\n${n}'s dask-worker.log (tail):\n${this.log(n, "dask-worker.log").slice(-2000)}`).join("\n");
    const seen = await this.runClient<Seen>(CLIENT_PROGRAM, workers, before, logs);
    expect(seen.sumOfSquares).toBe(328350);
    return seen;
  }
}
