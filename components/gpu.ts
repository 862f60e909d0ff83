/**
 * What the program knows about GPUs: which Azure VM sizes carry one, which
 * NVIDIA driver a CUDA toolkit needs, and which driver, Ubuntu and Python a
 * Databricks runtime brings. Pure data and checks; the config rules, the
 * components and the policy pack all read them from here.
 *
 * Sources (each figure is repeated beside its table):
 * - NVIDIA, CUDA Toolkit release notes, table "CUDA Toolkit and Corresponding
 *   Driver Versions" (Linux x86_64, the "Toolkit Driver Version" column): the
 *   lowest driver each CUDA release needs without relying on minor-version
 *   compatibility (which runs most CUDA 12.x code on any 12.x driver, but not
 *   code that JIT-compiles PTX, so it is not relied on here).
 * - Azure Databricks release notes, "Databricks Runtime <n> LTS for Machine
 *   Learning", System environment: the NVIDIA driver the runtime's GPU nodes
 *   run (the driver comes from the host, not from the image), and the
 *   runtime's Ubuntu and Python (Databricks Runtime <n> LTS, System
 *   environment).
 * - Azure VM sizes, GPU families: NC, ND and NV (Microsoft Learn, "GPU
 *   optimized virtual machine sizes"); Azure Databricks, "GPU-enabled
 *   compute", lists the sizes Databricks offers.
 */

/** A Databricks runtime's system environment, as far as a GPU image depends on it. */
export interface RuntimeGpuFacts {
  /** Ubuntu release of the runtime. */
  ubuntu: string;
  /** Python major.minor at /databricks/python3. */
  python: string;
  /** NVIDIA driver on the runtime's GPU nodes. */
  driver: string;
}

/**
 * Per long-term-support runtime (major.minor). Ubuntu and Python: Databricks
 * Runtime 15.4 LTS runs Ubuntu 22.04 and Python 3.11, 16.4 LTS Ubuntu 24.04
 * and Python 3.12 (their release notes, System environment; for 16.4 also
 * databricks/containers, which moved its minimal and python images to 24.04
 * and 3.12 for it). Driver: Azure Databricks "GPU-enabled compute", section
 * "NVIDIA GPU driver, CUDA, and cuDNN", names one driver for the GPU nodes of
 * current runtimes, 535.54.03 (CUDA 12.2); the release notes of the ML
 * runtimes list CUDA and cuDNN, not the driver. That page could not be read
 * again from this machine, so the figure is also checked where it matters:
 * the init script compares the node's real driver (nvidia-smi) with what the
 * image's CUDA needs and fails the start naming both. A stack overrides the
 * figure with dcs:images.<name>.gpu.driver.
 */
export const RUNTIME_GPU_FACTS: Readonly<Record<string, RuntimeGpuFacts>> = {
  "15.4": { ubuntu: "22.04", python: "3.11", driver: "535.54.03" },
  "16.4": { ubuntu: "24.04", python: "3.12", driver: "535.54.03" },
};

/**
 * The lowest NVIDIA driver each CUDA release (major.minor) needs, from NVIDIA's
 * table (Toolkit Driver Version, Linux x86_64, the GA release).
 */
export const CUDA_MIN_DRIVER: Readonly<Record<string, string>> = {
  "11.8": "520.61.05",
  "12.0": "525.60.13",
  "12.1": "530.30.02",
  "12.2": "535.54.03",
  "12.3": "545.23.06",
  "12.4": "550.54.14",
  "12.5": "555.42.02",
  "12.6": "560.28.03",
  "12.8": "570.26",
  "12.9": "575.51.03",
};

/** The CUDA a GPU image builds on when the stack names none: the newest whose toolkit driver (535.54.03) the runtimes' driver meets; NVIDIA publishes it as 12.2.2-runtime-ubuntu22.04 (no 24.04 tag before CUDA 12.5). */
export const DEFAULT_CUDA = "12.2.2";

/** The base image of a GPU image: NVIDIA's CUDA runtime image for a CUDA release and an Ubuntu release. */
export function cudaBaseImage(cuda: string, ubuntu: string): string {
  return `nvidia/cuda:${cuda}-runtime-ubuntu${ubuntu}`;
}

/** major.minor of a version such as 12.2.2. */
export function majorMinor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** Compares dotted numeric versions (535.216.03 vs 550.54.14): negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The lowest driver a CUDA release needs, or undefined for a release the table does not know. */
export function minDriverFor(cuda: string): string | undefined {
  return CUDA_MIN_DRIVER[majorMinor(cuda)];
}

/** Why a CUDA release cannot run on a driver, or undefined when it can. */
export function cudaDriverProblem(cuda: string, driver: string): string | undefined {
  const needed = minDriverFor(cuda);
  if (needed === undefined) return `CUDA ${cuda} is not in the program's table of CUDA releases (${Object.keys(CUDA_MIN_DRIVER).join(", ")})`;
  if (compareVersions(needed, driver) > 0) return `CUDA ${cuda} needs NVIDIA driver ${needed} or newer, and the runtime's GPU nodes run ${driver}`;
  return undefined;
}

/**
 * Azure GPU VM sizes: the N families, NC (compute: T4, V100, A100, H100),
 * ND (deep learning) and NV (visualization, A10). Databricks offers NC and ND
 * sizes and the whole-GPU NV sizes; a size with a fraction of a GPU (NVadsA10
 * v5 below 36 cores) is not offered.
 */
export const GPU_NODE_TYPE = /^Standard_N[CDV]\d+[a-z]*_/i;

/** True for an Azure GPU VM size such as Standard_NC4as_T4_v3. */
export function isGpuNodeType(nodeType: string): boolean {
  return GPU_NODE_TYPE.test(nodeType);
}

/** True for a runtime key of the Photon engine, e.g. 16.4.x-photon-scala2.12. */
export function isPhotonRuntime(sparkVersion: string): boolean {
  return /(^|-)photon(-|$)/i.test(sparkVersion);
}

/** Spark environment variables that tell the init script (and the policy pack) a cluster boots a GPU image. */
export const CUDA_VERSION_VAR = "DCS_CUDA_VERSION";
export const CUDA_MIN_DRIVER_VAR = "DCS_CUDA_MIN_DRIVER";

/** The GPU variables of a cluster booting a GPU image built on `cuda`. */
export function gpuEnvVars(cuda: string): Record<string, string> {
  const min = minDriverFor(cuda);
  return { [CUDA_VERSION_VAR]: cuda, ...(min ? { [CUDA_MIN_DRIVER_VAR]: min } : {}) };
}

/** The custom tag that names the CUDA of the image a pool preloads. */
export const POOL_CUDA_TAG = "dcsCuda";
