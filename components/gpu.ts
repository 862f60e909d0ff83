/**
 * What the program knows about GPUs: which Azure VM sizes carry one, which
 * NVIDIA driver a CUDA toolkit needs, and which driver, Ubuntu and Python a
 * Databricks runtime brings. Pure data and checks; the config rules, the
 * components and the policy pack all read them from here.
 *
 * Sources (each figure is repeated beside its table):
 * - NVIDIA, CUDA Toolkit release notes: table "CUDA Toolkit and
 *   Corresponding Driver Versions" (Linux x86_64, "Toolkit Driver Version":
 *   the driver with which a CUDA release has every feature), and "Driver Range
 *   for Minor Version Compatibility" (a CUDA 11.x application runs on drivers
 *   from 450.80.02, 12.x from 525.60.13, 13.x from 580; within its major
 *   release, an application runs on an older driver than its toolkit's, except
 *   for what needs the newer driver, such as JIT-compiling newer PTX; CUDA
 *   Compatibility guide). What the program refuses is a CUDA whose major
 *   release the driver cannot run at all; a CUDA that runs only through minor
 *   version compatibility is allowed with a warning.
 * - Azure Databricks release notes, "Databricks Runtime <n> LTS", System
 *   environment: the runtime's Ubuntu and Python; the driver of its GPU nodes
 *   (which comes from the host, not from the image) from what has been
 *   published, see RUNTIME_GPU_FACTS.
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
 * and Python 3.12 (their release notes, System environment; databricks/containers
 * branch release-16.4-LTS builds its minimal image FROM ubuntu:24.04 and its
 * python image with python_version 3.12). Driver: the release notes of the ML
 * runtimes list CUDA and cuDNN, not the driver; the figure published for
 * Databricks GPU nodes is 535.54.03 (nvidia-smi on a Databricks Runtime ML GPU
 * node, rapidsai/deployment issue #299; the Azure Databricks "GPU-enabled
 * compute" page names one driver for the GPU nodes of current runtimes). It
 * could not be confirmed for 16.4 from this machine, so it is also checked
 * where it matters: the init script compares the node's real driver
 * (nvidia-smi) with what the image's CUDA needs and fails the start naming
 * both. A stack overrides it with dcs:images.<name>.gpu.driver.
 */
export const RUNTIME_GPU_FACTS: Readonly<Record<string, RuntimeGpuFacts>> = {
  "15.4": { ubuntu: "22.04", python: "3.11", driver: "535.54.03" },
  "16.4": { ubuntu: "24.04", python: "3.12", driver: "535.54.03" },
};

/**
 * A GPU image's figures with the runtime's filled in where the stack names
 * none: the driver of its GPU nodes and its Python. Either is undefined when
 * the stack names none and the table does not know the runtime.
 */
export function gpuFigures(
  gpu: { cuda: string; ubuntu: string; driver?: string; python?: string },
  runtimeTag: string,
): { cuda: string; ubuntu: string; driver?: string; python?: string } {
  const facts = RUNTIME_GPU_FACTS[/^(\d+\.\d+)-LTS$/.exec(runtimeTag)?.[1] ?? ""];
  return { ...gpu, driver: gpu.driver ?? facts?.driver, python: gpu.python ?? facts?.python };
}

/**
 * The driver with which each CUDA release (major.minor) has every feature,
 * from NVIDIA's table (Toolkit Driver Version, Linux x86_64, the GA release).
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

/** The lowest driver that runs any CUDA of a major release (minor version compatibility), from NVIDIA's release notes. */
export const CUDA_MAJOR_MIN_DRIVER: Readonly<Record<string, string>> = {
  "11": "450.80.02",
  "12": "525.60.13",
  "13": "580",
};

/**
 * The CUDA a GPU image builds on when the stack names none: the oldest CUDA
 * that NVIDIA publishes as an Ubuntu 24.04 runtime image (nvidia/cuda's
 * supported tags start 24.04 at 12.5.1) and PyTorch builds wheels for (no
 * cu125 index). On the 535 driver it runs through minor version compatibility.
 */
export const DEFAULT_CUDA = "12.6.3";
/** The Ubuntu of the default GPU base: the 16.4 LTS runtime's. */
export const DEFAULT_CUDA_UBUNTU = "24.04";

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

/** The driver with which a CUDA release has every feature, or undefined for a release the table does not know. */
export function minDriverFor(cuda: string): string | undefined {
  return CUDA_MIN_DRIVER[majorMinor(cuda)];
}

/** The lowest driver that runs a CUDA release at all (its major release's floor), or undefined for an unknown major release. */
export function compatibleDriverFloor(cuda: string): string | undefined {
  return CUDA_MAJOR_MIN_DRIVER[cuda.split(".")[0]];
}

/** Why a CUDA release cannot run on a driver at all, or undefined when it can. */
export function cudaDriverProblem(cuda: string, driver: string): string | undefined {
  const floor = compatibleDriverFloor(cuda);
  if (floor === undefined) return `CUDA ${cuda} is not a release the program knows (CUDA ${Object.keys(CUDA_MAJOR_MIN_DRIVER).join(", ")}.x)`;
  if (compareVersions(floor, driver) > 0) return `CUDA ${cuda} needs NVIDIA driver ${floor} or newer, and the runtime's GPU nodes run ${driver}`;
  return undefined;
}

/** A note when a CUDA release runs on a driver only through minor version compatibility, or undefined when the driver has every feature. */
export function cudaDriverNote(cuda: string, driver: string): string | undefined {
  const full = minDriverFor(cuda);
  if (full === undefined || compareVersions(full, driver) <= 0 || cudaDriverProblem(cuda, driver)) return undefined;
  return `CUDA ${cuda} has every feature from driver ${full}; the runtime's GPU nodes run ${driver}, so it runs through NVIDIA's minor version compatibility (code that JIT-compiles newer PTX, or needs newer driver APIs, fails)`;
}

/**
 * Azure GPU VM sizes: the N families, NC (compute: T4, V100, A100, H100),
 * ND (deep learning) and NV (visualization, A10). Databricks offers NC and ND
 * sizes and the whole-GPU NV sizes; a size with a fraction of a GPU (NVadsA10
 * v5 below 36 cores) is not offered.
 */
export const GPU_NODE_TYPE = /^Standard_N[CDV]\d+[a-z]*(_|$)/i;

/** True for an Azure GPU VM size such as Standard_NC4as_T4_v3. */
export function isGpuNodeType(nodeType: string): boolean {
  return GPU_NODE_TYPE.test(nodeType);
}

/**
 * Why Azure Databricks does not offer a GPU size, or undefined when it may.
 * Azure Databricks, "GPU-enabled compute", supported instance types: NC v3
 * (`Standard_NC6s_v3`, ...) is no longer supported since Azure retired it
 * (2025-03-31 and 2025-09-30), as are the older NC, NV and ND v1/v2 sizes; of
 * NVadsA10 v5 only the whole-GPU sizes (NV36ads, NV36adms, NV72ads) are
 * listed, not the fractions of a GPU (NV6ads, NV12ads, NV18ads).
 */
export function unofferedGpuSizeReason(nodeType: string): string | undefined {
  if (/^Standard_NC\d+r?s_v3$/i.test(nodeType)) return "NC v3 sizes are no longer offered (Azure retired them in 2025)";
  if (/^Standard_(NC|NV|ND)\d+r?s?(_v2)?$/i.test(nodeType)) return "the first NC, NV and ND generations are retired";
  if (/^Standard_NV(6|12|18)ads_A10_v5$/i.test(nodeType)) return "a size with a fraction of an A10 is not among the GPU sizes Azure Databricks offers (NV36ads_A10_v5 and larger are)";
  return undefined;
}

/** True for a runtime key of the Photon engine, e.g. 16.4.x-photon-scala2.12. */
export function isPhotonRuntime(sparkVersion: string): boolean {
  return /(^|-)photon(-|$)/i.test(sparkVersion);
}

/** Spark environment variables that tell the init script (and the policy pack) a cluster boots a GPU image. */
export const CUDA_VERSION_VAR = "DCS_CUDA_VERSION";
export const CUDA_MIN_DRIVER_VAR = "DCS_CUDA_MIN_DRIVER";

/** The GPU variables of a cluster booting a GPU image built on `cuda`: its CUDA and the lowest driver that runs it. */
export function gpuEnvVars(cuda: string): Record<string, string> {
  const floor = compatibleDriverFloor(cuda);
  return { [CUDA_VERSION_VAR]: cuda, ...(floor ? { [CUDA_MIN_DRIVER_VAR]: floor } : {}) };
}

/** The custom tag that names the CUDA of the image a pool preloads. */
export const POOL_CUDA_TAG = "dcsCuda";
