/**
 * The GPU branch and the single-node mode of infra/init-scripts/init_script_dask.sh,
 * run for real with Debian's Dask on 127.0.0.1, on a machine with no GPU. Two
 * stand-ins take the place of what only a GPU node has (test/helpers/gpu-cluster.ts,
 * test/fixtures/gpu): a fake `nvidia-smi` first on PATH, and a stand-in for
 * dask-cuda's CLI that `python -m dask cuda worker` reaches through dask's
 * `dask_cli` entry points; it records how it was started, then runs one plain
 * distributed worker per device. So these tests prove what the script decides and
 * starts, and that the workers it starts join, compute and come back; they prove
 * nothing about CUDA or dask-cuda themselves.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { liveProcess, liveProcessesMentioning, ROOT } from "./helpers/processes";
import { GpuLoopbackCluster } from "./helpers/gpu-cluster";
import { MiB, nodeMemoryBytes, steps, stopAfterEach, type Env } from "./helpers/init-script-cluster";

const README = path.join(ROOT, "infra", "init-scripts", "README.md");

/** A GPU image on a node whose driver is new enough for it (CUDA 12.4 needs 550.54.14). */
const GPU_IMAGE: Env = { DCS_CUDA_VERSION: "12.4.1", DCS_CUDA_MIN_DRIVER: "550.54.14" };

const stoppedAfterTest = stopAfterEach(120_000);
/** A new cluster, stopped (with a check that nothing is left) after the test. */
async function cluster(): Promise<GpuLoopbackCluster> {
  return stoppedAfterTest(await GpuLoopbackCluster.create());
}

describe("init_script_dask.sh on a GPU node (fake nvidia-smi, stand-in dask-cuda CLI)", () => {
  it("runs one supervised `dask cuda worker` for 2 GPUs: the right scheduler and flags, 2 workers join, and it comes back when killed", async () => {
    const c = await cluster();
    expect((await c.start("driver", "driver", GPU_IMAGE)).code).toBe(0);
    // Sized by the node: no DCS_DASK_WORKER_THREADS / _MEMORY, the default share of half the node.
    const node = { ...GPU_IMAGE, FAKE_GPUS: "2", FAKE_GPU_NAME: "NVIDIA A100 80GB PCIe", FAKE_NVIDIA_DRIVER: "550.54.15", DCS_DASK_WORKER_THREADS: undefined, DCS_DASK_WORKER_MEMORY: undefined };
    const r = await c.start("gpu-1", "worker", node);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nvidia-smi found 2 GPU(s): 0 NVIDIA A100 80GB PCIe, 1 NVIDIA A100 80GB PCIe; NVIDIA driver 550.54.15");
    expect(r.stdout).toContain("NVIDIA driver 550.54.15 meets 550.54.14, the lowest CUDA 12.4.1 needs");
    expect(r.stdout).toMatch(/supervisor started \(pid \d+\); the worker joins tcp:\/\/127\.0\.0\.1:\d+ once it answers/);
    expect(c.cmdline("gpu-1", "supervisor")).toMatch(/init_script_dask\.sh --supervise --cuda-devices 0,1$/);

    // Both GPU workers join the real scheduler, one thread each (dask-cuda's default), and the
    // node's half of the memory split between them.
    const perWorker = Math.floor(Math.floor(Math.floor((nodeMemoryBytes() * 500) / 1000) / 2) / MiB);
    const seen = await c.compute(2);
    expect(seen.workers.map((w) => [w.nthreads, w.memoryLimit, w.cudaVisibleDevices])).toEqual([
      [1, perWorker * MiB, "0,1"],
      [1, perWorker * MiB, "0,1"],
    ]);
    const [first] = c.cudaStarts("gpu-1");
    expect(first).toEqual({
      argv: ["cuda", "worker", `tcp://127.0.0.1:${c.port}`, "--nthreads", "1", "--memory-limit", `${perWorker}MiB`, "--local-directory", `${c.runDir("gpu-1")}/worker-space`, "--no-dashboard"],
      pid: c.pid("gpu-1", "worker"),
      CUDA_VISIBLE_DEVICES: "0,1",
    });
    // One process per node, under the supervisor: `python -m dask cuda worker`, not distributed's worker.
    expect(c.cmdline("gpu-1", "worker")).toMatch(/^\/usr\/bin\/python3 -m dask cuda worker tcp:\/\/127\.0\.0\.1:\d+ /);
    expect(liveProcessesMentioning(c.runDir("gpu-1")).filter((p) => p.cmdline.includes("distributed.cli.dask_worker"))).toEqual([]);
    expect(c.log("gpu-1")).toContain(`joining as dask-cuda workers, one per GPU (2, CUDA_VISIBLE_DEVICES=0,1), each with 1 threads and memory limit ${perWorker}MiB`);

    // Killed with SIGKILL: the supervisor starts it again, and two new workers join.
    const killed = first.pid;
    process.kill(killed, "SIGKILL");
    const again = await c.compute(2, seen.workers.map((w) => w.pid));
    expect(again.workers).toHaveLength(2);
    const restarted = await c.livePid("gpu-1", "worker", killed);
    expect(liveProcess(killed)).toBeUndefined();
    expect(c.cudaStarts("gpu-1").map((s) => s.pid)).toEqual([killed, restarted]);
    expect(c.cudaStarts("gpu-1")[1].argv).toEqual(first.argv);
    expect(c.log("gpu-1")).toMatch(/the worker exited with status 137 \(killed by signal 9\) after \d+ s .*; starting it again in 1\.000s/);

    // A second run starts nothing twice, and does not even look at the GPUs again.
    const second = await c.start("gpu-1", "worker", node);
    expect(second.stdout).toContain(`supervisor already running (pid ${c.pid("gpu-1", "supervisor")}); nothing to start`);
    expect(second.stdout).not.toContain("nvidia-smi");
    expect(c.cudaStarts("gpu-1")).toHaveLength(2);
  }, 120_000);

  it("gives dask-cuda DCS_DASK_WORKER_THREADS and a size as each GPU worker's, splits a fraction among the GPUs, and keeps CUDA_VISIBLE_DEVICES when set", async () => {
    const c = await cluster();
    await c.start("driver", "driver");
    const cases: [string, Env, string[]][] = [
      ["size", { DCS_DASK_WORKER_THREADS: "3", DCS_DASK_WORKER_MEMORY: "300MiB" }, ["--nthreads", "3", "--memory-limit", "300MiB"]],
      ["auto", { DCS_DASK_WORKER_MEMORY: "auto" }, ["--nthreads", "1", "--memory-limit", "auto"]],
      ["fraction", { DCS_DASK_WORKER_MEMORY: "0.25", DCS_DASK_WORKER_THREADS: undefined }, ["--nthreads", "1", "--memory-limit", `${Math.floor(Math.floor(Math.floor((nodeMemoryBytes() * 250) / 1000) / 4) / MiB)}MiB`]],
    ];
    for (const [node, extra, flags] of cases) {
      const r = await c.start(node, "worker", { ...GPU_IMAGE, FAKE_GPUS: "4", ...extra });
      expect(r.code, r.stderr).toBe(0);
      await waitForStart(c, node);
      expect(c.cudaStarts(node)[0].argv.slice(3, 7), node).toEqual(flags);
      expect(c.cudaStarts(node)[0].CUDA_VISIBLE_DEVICES).toBe("0,1,2,3");
      await c.stopNode(node);
    }
    // A choice of devices made for the node stands: dask-cuda runs one worker per device named.
    const chosen = await c.start("chosen", "worker", { ...GPU_IMAGE, FAKE_GPUS: "4", CUDA_VISIBLE_DEVICES: "2,3" });
    expect(chosen.stdout).toContain("CUDA_VISIBLE_DEVICES is set to 2,3: dask-cuda runs one worker per device it names");
    await waitForStart(c, "chosen");
    expect(c.cudaStarts("chosen")[0].CUDA_VISIBLE_DEVICES).toBe("2,3");
    expect(c.cmdline("chosen", "supervisor")).toMatch(/--supervise --cuda-devices 2,3$/);
  }, 120_000);

  it("fails the start on an NVIDIA driver older than DCS_CUDA_MIN_DRIVER, naming both versions and the setting to change, comparing field by field", async () => {
    const c = await cluster();
    const old = await c.start("gpu-old", "worker", { ...GPU_IMAGE, FAKE_GPUS: "1", FAKE_NVIDIA_DRIVER: "535.54.03" });
    expect(old.code).toBe(2);
    expect(old.stderr).toContain(
      "error: the NVIDIA driver on this node is 535.54.03, older than 550.54.14, the lowest the image's CUDA 12.4.1 needs (DCS_CUDA_VERSION, DCS_CUDA_MIN_DRIVER). Build the image on a CUDA release this driver runs (config dcs:images.<name>.gpu.cuda), or choose a Databricks runtime whose GPU nodes run driver 550.54.14 or newer",
    );
    expect(c.log("gpu-old")).toContain("older than 550.54.14");
    expect(c.pid("gpu-old", "supervisor")).toBeUndefined();
    expect(liveProcessesMentioning(c.runDir("gpu-old"))).toEqual([]);

    // As numbers, not as text: 550.54.9 is older than 550.54.14, 550.100.1 is newer.
    for (const [driver, min, code] of [
      ["550.54.9", "550.54.14", 2],
      ["550.100.1", "550.54.14", 0],
      ["570.26", "570.26.0", 0],
      ["1000.1", "999.99.99", 0],
    ] as const) {
      const node = `gpu-${driver}`;
      const r = await c.start(node, "worker", { ...GPU_IMAGE, DCS_CUDA_MIN_DRIVER: min, FAKE_GPUS: "1", FAKE_NVIDIA_DRIVER: driver });
      expect(r.code, `${driver} against ${min}: ${r.stderr}`).toBe(code);
      if (code === 0) expect(r.stdout).toContain(`NVIDIA driver ${driver} meets ${min}`);
    }
  }, 60_000);

  it("on a GPU image without a GPU (no nvidia-smi, or none found) warns and runs the CPU worker", async () => {
    const c = await cluster();
    await c.start("driver", "driver");
    const noSmi = await c.start("no-smi", "worker", { ...GPU_IMAGE, PATH: process.env.PATH });
    expect(noSmi.code, noSmi.stderr).toBe(0);
    expect(noSmi.stdout).toContain("warning: this cluster boots a GPU image (DCS_CUDA_VERSION=12.4.1) but this node has no nvidia-smi on its PATH: no GPU found, so it runs the CPU worker");
    const noGpu = await c.start("no-gpu", "worker", { ...GPU_IMAGE, FAKE_GPUS: "0" });
    expect(noGpu.code, noGpu.stderr).toBe(0);
    expect(noGpu.stdout).toContain("warning: this cluster boots a GPU image (DCS_CUDA_VERSION=12.4.1) but nvidia-smi found no GPU on this node (status 6: No devices were found), so it runs the CPU worker");

    const seen = await c.compute(2);
    expect(seen.workers.map((w) => [w.nthreads, w.memoryLimit])).toEqual([
      [1, 256 * MiB],
      [1, 256 * MiB],
    ]);
    for (const node of ["no-smi", "no-gpu"]) {
      expect(c.cmdline(node, "worker"), node).toContain("-m distributed.cli.dask_worker");
      expect(c.cmdline(node, "supervisor"), node).toMatch(/--supervise$/);
      expect(c.cudaStarts(node), node).toEqual([]);
    }
  }, 60_000);

  it("on a CPU image on a GPU node runs the ordinary worker, and says so", async () => {
    const c = await cluster();
    await c.start("driver", "driver");
    const r = await c.start("cpu-image", "worker", { FAKE_GPUS: "2" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nvidia-smi found 2 GPU(s)");
    expect(r.stdout).toContain("this node has 2 GPU(s) but the cluster boots a CPU image (DCS_CUDA_VERSION is not set): it runs the ordinary worker, which leaves the GPUs unused");
    expect(r.stdout).not.toContain("warning");
    expect((await c.compute(1)).workers.map((w) => w.cudaVisibleDevices)).toEqual([null]);
    expect(c.cmdline("cpu-image", "worker")).toContain("-m distributed.cli.dask_worker");
    expect(c.cudaStarts("cpu-image")).toEqual([]);
  }, 60_000);

  it("refuses malformed GPU settings, and a GPU image whose Python lacks dask_cuda", async () => {
    const c = await cluster();
    const cases: [Env, RegExp][] = [
      [{ DCS_CUDA_VERSION: "twelve" }, /DCS_CUDA_VERSION must be a CUDA release such as 12\.4\.1 \(or unset for a CPU image\), got 'twelve'/],
      [{ DCS_CUDA_VERSION: "12.4.1", DCS_CUDA_MIN_DRIVER: "550.x" }, /DCS_CUDA_MIN_DRIVER must be an NVIDIA driver version such as 550\.54\.14 \(or unset\), got '550\.x'/],
      [{ DCS_SINGLE_NODE: "yes" }, /DCS_SINGLE_NODE must be true \(a single-node cluster: the driver runs a worker too\), false or unset, got 'yes'/],
      [{ ...GPU_IMAGE, FAKE_GPUS: "1", PYTHONPATH: undefined }, /DCS_DASK_PYTHON: '\/usr\/bin\/python3' cannot import dask_cuda, which the workers of a GPU image \(DCS_CUDA_VERSION=12\.4\.1\) run; install dask-cuda in the GPU image/],
    ];
    for (const [extra, message] of cases) {
      const r = await c.start("node", "worker", extra);
      expect(r.code, JSON.stringify(extra)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(c.pid("node", "supervisor")).toBeUndefined();
    }
  });
});

/** Waits until the dask-cuda stand-in of a node has started once (the scheduler answered). */
async function waitForStart(c: GpuLoopbackCluster, node: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (c.cudaStarts(node).length === 0) {
    if (Date.now() > deadline) throw new Error(`no dask-cuda start on ${node}:\n${c.log(node)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("init_script_dask.sh on a single-node cluster (DCS_SINGLE_NODE=true)", () => {
  it("runs the scheduler and a worker on the driver, both supervised: a killed worker comes back, a second run starts nothing, --stop ends both", async () => {
    const c = await cluster();
    // Without DB_DRIVER_IP the driver's worker finds its scheduler on 127.0.0.1.
    const env = { DCS_SINGLE_NODE: "true", DB_DRIVER_IP: undefined };
    const r = await c.start("single", "driver", env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("single-node cluster (DCS_SINGLE_NODE=true): this driver runs the scheduler and a worker");
    expect(r.stdout).toContain("starting the supervisor of the scheduler in the background");
    expect(r.stdout).toContain("starting the supervisor of the driver's worker in the background (logs in");
    expect(r.stdout).toMatch(/supervisor of the driver's worker started \(pid \d+\); the worker joins tcp:\/\/127\.0\.0\.1:\d+ once it answers/);
    const schedulerSupervisor = c.pid("single", "supervisor")!;
    const workerSupervisor = c.pid("single", "worker-supervisor")!;
    expect(schedulerSupervisor).not.toBe(workerSupervisor);
    expect(c.cmdline("single", "worker-supervisor")).toMatch(/init_script_dask\.sh --supervise-worker$/);

    const seen = await c.compute(1);
    expect(seen.workers.map((w) => [w.nthreads, w.memoryLimit])).toEqual([[1, 256 * MiB]]);
    expect(c.cmdline("single", "scheduler")).toContain("-m distributed.cli.dask_scheduler");
    expect(c.cmdline("single", "worker")).toContain("-m distributed.cli.dask_worker tcp://127.0.0.1:");
    expect(fs.readdirSync(path.join(c.runDir("single"), "logs")).sort()).toEqual(["dask-init.log", "dask-scheduler.log", "dask-worker.log"]);

    const worker = c.pid("single", "worker")!;
    process.kill(worker, "SIGKILL");
    await c.compute(1, seen.workers.map((w) => w.pid));
    expect(await c.livePid("single", "worker", worker)).not.toBe(worker);
    expect(c.log("single")).toMatch(/the worker exited with status 137 \(killed by signal 9\) after \d+ s .*; starting it again in 1\.000s/);
    expect(c.pid("single", "worker-supervisor")).toBe(workerSupervisor);

    const again = await c.start("single", "driver", env);
    expect(again.stdout).toContain(`supervisor already running (pid ${schedulerSupervisor}); nothing to start`);
    expect(again.stdout).toContain(`supervisor of the driver's worker already running (pid ${workerSupervisor}); nothing to start`);
    expect(again.stdout).not.toContain("starting");

    const stopped = await c.stopNode("single");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(steps(stopped.stdout)).toEqual([
      `dcs-dask driver: stopping the supervisor of the driver's worker (pid ${workerSupervisor}) and its Dask process`,
      `dcs-dask driver: stopping the supervisor (pid ${schedulerSupervisor}) and its Dask process`,
      `dcs-dask driver: nothing of Dask runs from ${c.runDir("single")}`,
    ]);
    expect(liveProcessesMentioning(c.runDir("single"))).toEqual([]);
  }, 120_000);

  it("with a GPU image and a GPU, the driver's worker is `dask cuda worker`", async () => {
    const c = await cluster();
    const r = await c.start("single-gpu", "driver", { ...GPU_IMAGE, DCS_SINGLE_NODE: "true", FAKE_GPUS: "1" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nvidia-smi found 1 GPU(s): 0 Tesla T4; NVIDIA driver 550.54.15");
    expect((await c.compute(1)).workers.map((w) => [w.nthreads, w.memoryLimit])).toEqual([[1, 256 * MiB]]);
    expect(c.cudaStarts("single-gpu").map((s) => s.argv.slice(0, 3))).toEqual([["cuda", "worker", `tcp://127.0.0.1:${c.port}`]]);
    expect(c.cmdline("single-gpu", "worker-supervisor")).toMatch(/--supervise-worker --cuda-devices 0$/);
  }, 60_000);

  it("checks the driver before it starts anything: a single-node driver too old for the image starts no scheduler either", async () => {
    const c = await cluster();
    const r = await c.start("single-old", "driver", { ...GPU_IMAGE, DCS_SINGLE_NODE: "true", FAKE_GPUS: "1", FAKE_NVIDIA_DRIVER: "535.54.03" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the NVIDIA driver on this node is 535.54.03, older than 550.54.14");
    expect(c.pid("single-old", "supervisor")).toBeUndefined();
    expect(liveProcessesMentioning(c.runDir("single-old"))).toEqual([]);
  });

  it("leaves a cluster with workers alone: without DCS_SINGLE_NODE the driver runs no worker and never asks nvidia-smi", async () => {
    const c = await cluster();
    const r = await c.start("driver", "driver", { ...GPU_IMAGE, FAKE_GPUS: "2" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("nvidia-smi");
    expect(r.stdout.match(/starting the supervisor/g)).toHaveLength(1);
    await c.livePid("driver", "scheduler");
    expect(c.pid("driver", "worker-supervisor")).toBeUndefined();
  });
});

describe("infra/init-scripts/README.md", () => {
  it("documents the GPU and single-node settings and says what the stand-ins do not prove", () => {
    const readme = fs.readFileSync(README, "utf8");
    for (const name of ["DCS_CUDA_VERSION", "DCS_CUDA_MIN_DRIVER", "DCS_SINGLE_NODE", "CUDA_VISIBLE_DEVICES", "dask cuda worker", "worker-supervisor.pid"]) expect(readme).toContain(`\`${name}\``);
    expect(readme).toMatch(/stand-in/i);
    expect(readme).toMatch(/only a (real )?GPU cluster/i);
  });
});
