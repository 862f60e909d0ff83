/**
 * Rules for GPU clusters on a custom container: GPU nodes boot a GPU image and
 * a GPU image runs on GPU nodes, on a standard runtime key without Photon,
 * with a CUDA the runtime's GPU driver runs. Each rule judges every cluster
 * spec that runs a custom container (a cluster, each job cluster of a job;
 * `../specs.ts`) and every instance pool; a message starts with the spec's
 * label, which names the resource and the cluster inside it.
 *
 * What the program tells the pack (stacks/team.ts, components/gpu.ts):
 * - a cluster spec booting a GPU image carries the Spark environment variables
 *   `DCS_CUDA_VERSION` (its CUDA, e.g. 12.6.3) and `DCS_CUDA_MIN_DRIVER` (the
 *   lowest NVIDIA driver that CUDA runs on, which the init script checks each
 *   node against); a CPU image's spec carries neither;
 * - a pool preloading a GPU image carries the custom tag `dcsCuda` (a pool has
 *   no environment variables);
 * - GPU nodes are the Azure sizes Standard_NC*, ND* and NV* (`isGpuNodeType`).
 *
 * A pooled cluster has no node type of its own: it runs on the node type of
 * the pool its `instancePoolId` (workers) and `driverInstancePoolId` (driver;
 * the workers' pool when not set) name. The rules that need it find that pool
 * in the stack by its `instancePoolId`, which is known once the pool exists; while
 * it is not, the pooled cluster's node type is not known and is not judged.
 *
 * A cluster without a custom container (Databricks' own GPU ML runtime, say)
 * is not judged: a GPU image, and a standard runtime key, are what a custom
 * container on a GPU node needs.
 */
import { compatibleDriverFloor, CUDA_MIN_DRIVER_VAR, CUDA_VERSION_VAR, cudaDriverProblem, isGpuNodeType, isPhotonRuntime, POOL_CUDA_TAG } from "../../components/gpu";
import { read, readTag, readTagIn, UNKNOWN } from "../reading";
import { containerImages, containerRuntimes, containerSpecs, type ClusterSpec } from "../specs";
import { INSTANCE_POOL, type Props, type Rule, type RuleContext, type StackResource } from "../types";

/** The policy whose `gpuDrivers` setting names each runtime's GPU driver (named in its messages). */
export const GPU_DRIVERS_POLICY = "gpu-cuda-within-driver";

/** What GPU node types are, for messages. */
const GPU_SIZES = "an Azure GPU size: Standard_NC*, Standard_ND* or Standard_NV*";

/** A runtime key of Databricks Runtime for Machine Learning, CPU or GPU (16.4.x-cpu-ml-scala2.12, 16.4.x-gpu-ml-scala2.12). */
export function isMlRuntimeKey(sparkVersion: string): boolean {
  return /(^|-)ml(-|$)|gpu/i.test(sparkVersion);
}

/** The standard runtime key of an ML or Photon one: 16.4.x-gpu-ml-scala2.12 and 16.4.x-photon-scala2.12 give 16.4.x-scala2.12. */
export function standardRuntimeKey(sparkVersion: string): string {
  return sparkVersion.replace(/-(cpu-ml|gpu-ml|ml|gpu|photon)(?=-|$)/gi, "");
}

/** The runtime major.minor of a runtime key (16.4.x-scala2.12 gives 16.4), or undefined for a key without one. */
export function runtimeOf(sparkVersion: string): string | undefined {
  return /^(\d+\.\d+)\./.exec(sparkVersion)?.[1];
}

/** A known, non-empty string, else undefined (absent, empty or not a string); `UNKNOWN` stays. */
function given(value: unknown): string | undefined | typeof UNKNOWN {
  if (value === UNKNOWN) return UNKNOWN;
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * The CUDA of the GPU image a cluster spec boots: its `DCS_CUDA_VERSION`; undefined for a CPU image
 * (a known `sparkEnvVars` without it); `UNKNOWN` while the variables or the value are not known.
 */
export function specCuda(spec: Props, { undefinedMeans }: Pick<RuleContext, "undefinedMeans">): string | undefined | typeof UNKNOWN {
  return given(readTagIn(spec, "sparkEnvVars", CUDA_VERSION_VAR, undefinedMeans));
}

/** The CUDA of the GPU image a pool preloads: its `dcsCuda` custom tag, read as `specCuda` reads a spec's. */
export function poolCuda(props: Props, { undefinedMeans }: Pick<RuleContext, "undefinedMeans">): string | undefined | typeof UNKNOWN {
  return given(readTag(INSTANCE_POOL, props, POOL_CUDA_TAG, undefinedMeans));
}

/** A node type a cluster spec runs on, known: for its workers, its driver or both, maybe through a pool. */
export interface SpecNodeType {
  /** The Azure VM size. */
  nodeType: string;
  /** Whose node type it is. */
  roles: ("workers" | "driver")[];
  /** The pool it comes from (its logical name), when the spec draws from one. */
  pool?: string;
}

/** The pool of a stack with a pool id (a pool's `instancePoolId`, known once it exists). */
function poolWithId(stack: StackResource[], id: string): StackResource | undefined {
  return stack.find((r) => r.type === INSTANCE_POOL && read(r.props, "instancePoolId", "absent") === id);
}

type Resolved = { nodeType: string; pool?: string } | typeof UNKNOWN | undefined;

/**
 * The node type of one role of a spec: from the pool `poolKey` names when it is set (not known yet
 * or not in the stack: `UNKNOWN`), else from `nodeKey` (`UNKNOWN` while not known), else undefined.
 * The pool id is read as CrossGuard reads it in either mode, as `drawsFromPool` does.
 */
function resolveRole(spec: Props, nodeKey: string, poolKey: string, context: RuleContext): Resolved {
  const poolId = read(spec, poolKey, "absent");
  if (poolId === UNKNOWN) return UNKNOWN;
  if (typeof poolId === "string" && poolId !== "") {
    const pool = poolWithId(context.stack, poolId);
    const nodeType = pool ? given(read(pool.props, "nodeTypeId", "absent")) : UNKNOWN;
    return typeof nodeType === "string" && pool ? { nodeType, pool: pool.name } : UNKNOWN;
  }
  const nodeType = given(read(spec, nodeKey, context.undefinedMeans));
  return typeof nodeType === "string" ? { nodeType } : nodeType;
}

/**
 * The known node types a cluster spec runs on. Workers: the pool of `instancePoolId`, else
 * `nodeTypeId`. Driver: the pool of `driverInstancePoolId`, else, when the workers draw from a pool,
 * theirs (Databricks' default), else `driverNodeTypeId`, else the workers' node type. A role whose
 * node type is not known (yet) is left out.
 */
export function specNodeTypes(spec: Props, context: RuleContext): SpecNodeType[] {
  const workers = resolveRole(spec, "nodeTypeId", "instancePoolId", context);
  let driver = resolveRole(spec, "driverNodeTypeId", "driverInstancePoolId", context);
  const workersPooled = given(read(spec, "instancePoolId", "absent")) !== undefined;
  const driverPoolSet = given(read(spec, "driverInstancePoolId", "absent")) !== undefined;
  if (!driverPoolSet && (workersPooled || driver === undefined)) driver = workers;
  const found: SpecNodeType[] = [];
  for (const [role, r] of [["workers", workers], ["driver", driver]] as const) {
    if (r === UNKNOWN || r === undefined) continue;
    const same = found.find((f) => f.nodeType === r.nodeType && f.pool === r.pool);
    if (same) same.roles.push(role);
    else found.push({ nodeType: r.nodeType, roles: [role], pool: r.pool });
  }
  return found;
}

/** How a message names node types: `Standard_NC4as_T4_v3 (pool pool-gpu)`, or per role when they differ. */
function describeNodeTypes(types: SpecNodeType[], all: SpecNodeType[]): string {
  const whole = all.length === 1 && all[0].roles.length === 2;
  return types
    .map((t) => {
      const notes = [...(whole ? [] : [t.roles.join(" and ")]), ...(t.pool ? [`pool ${t.pool}`] : [])];
      return notes.length ? `${t.nodeType} (${notes.join(", ")})` : t.nodeType;
    })
    .join(" and ");
}

/** The pool's node type, known, or undefined. */
function poolNodeType(props: Props, context: RuleContext): string | undefined {
  const nodeType = given(read(props, "nodeTypeId", context.undefinedMeans));
  return typeof nodeType === "string" ? nodeType : undefined;
}

/**
 * A cluster spec on a GPU node type boots a GPU image; a pool of a GPU node type that preloads an
 * image preloads a GPU image. A CPU image leaves the GPUs unused (the init script runs the CPU
 * worker): the cost of a GPU node for nothing.
 */
export const gpuNodeRunsGpuImage: Rule = (type, props, context) => {
  if (type === INSTANCE_POOL) {
    const nodeType = poolNodeType(props, context);
    if (nodeType === undefined || !isGpuNodeType(nodeType) || containerImages(type, props, context).length === 0) return [];
    if (poolCuda(props, context) !== undefined) return [];
    return [
      `pool ${context.name} preloads an image on GPU node type ${nodeType}, but not a GPU image (no ${POOL_CUDA_TAG} custom tag); preload a GPU image (an image of dcs:images with gpu.cuda) or choose a CPU node type.`,
    ];
  }
  return containerSpecs(type, props, context).flatMap(({ label, props: spec }) => {
    const all = specNodeTypes(spec, context);
    const gpu = all.filter((t) => isGpuNodeType(t.nodeType));
    if (gpu.length === 0 || specCuda(spec, context) !== undefined) return [];
    return [
      `${label} runs on GPU node type ${describeNodeTypes(gpu, all)} but boots a CPU image (no ${CUDA_VERSION_VAR} in sparkEnvVars), which leaves the GPUs unused; boot a GPU image (an image of dcs:images with gpu.cuda) or choose a CPU node type.`,
    ];
  });
};

/**
 * A cluster spec booting a GPU image runs on GPU node types only, driver included; a pool tagged
 * with a CUDA is of a GPU node type. On a CPU node the image's CUDA finds no GPU.
 */
export const gpuImageOnGpuNode: Rule = (type, props, context) => {
  if (type === INSTANCE_POOL) {
    const cuda = poolCuda(props, context);
    const nodeType = poolNodeType(props, context);
    if (typeof cuda !== "string" || nodeType === undefined || isGpuNodeType(nodeType)) return [];
    return [
      `pool ${context.name} preloads a GPU image (${POOL_CUDA_TAG}: ${cuda}) on node type ${nodeType}, which has no GPU; choose ${GPU_SIZES}, or preload a CPU image.`,
    ];
  }
  return containerSpecs(type, props, context).flatMap(({ label, props: spec }) => {
    const cuda = specCuda(spec, context);
    if (typeof cuda !== "string") return [];
    const all = specNodeTypes(spec, context);
    const cpu = all.filter((t) => !isGpuNodeType(t.nodeType));
    if (cpu.length === 0) return [];
    return [
      `${label} boots a GPU image (${CUDA_VERSION_VAR} ${cuda}) on node type ${describeNodeTypes(cpu, all)}, which has no GPU; run it on ${GPU_SIZES} (workers and driver), or boot a CPU image.`,
    ];
  });
};

/** Why a spec counts as a GPU cluster, for messages; undefined when it does not (or is not known to). */
function gpuReason(spec: ClusterSpec, context: RuleContext): string | undefined {
  const all = specNodeTypes(spec.props, context);
  const gpu = all.filter((t) => isGpuNodeType(t.nodeType));
  if (gpu.length > 0) return `on GPU node type ${describeNodeTypes(gpu, all)}`;
  const cuda = specCuda(spec.props, context);
  return typeof cuda === "string" ? `with a GPU image (${CUDA_VERSION_VAR} ${cuda})` : undefined;
}

/** What is wrong with a runtime key on a GPU node: ML or Photon; undefined when it is standard. */
function gpuRuntimeProblem(sparkVersion: string): string | undefined {
  const standard = standardRuntimeKey(sparkVersion);
  const instead = standard !== sparkVersion && runtimeOf(standard) ? ` such as ${standard}` : " such as 16.4.x-scala2.12";
  if (isMlRuntimeKey(sparkVersion)) {
    return `an ML runtime: a GPU cluster on a custom container runs a standard runtime key${instead} and its GPU image brings CUDA and the GPU libraries (ML runtimes do not support custom containers)`;
  }
  if (isPhotonRuntime(sparkVersion)) return `a Photon runtime: Photon does not run on GPU instance types; choose the runtime without Photon${instead}`;
  return undefined;
}

/**
 * A cluster spec on a GPU node or booting a GPU image runs a standard runtime key: not ML (CPU or
 * GPU ML: no custom containers, and the image brings CUDA itself), not Photon (a `-photon-` key or
 * `runtimeEngine: PHOTON`; Photon is not supported on GPU instance types). A GPU pool (a GPU node
 * type, or tagged with a CUDA) that preloads an image preloads standard runtimes.
 */
export const gpuRuntimeStandard: Rule = (type, props, context) => {
  if (type === INSTANCE_POOL) {
    const nodeType = poolNodeType(props, context);
    const cuda = poolCuda(props, context);
    const why =
      nodeType !== undefined && isGpuNodeType(nodeType) ? `on GPU node type ${nodeType}` : typeof cuda === "string" ? `with a GPU image (${POOL_CUDA_TAG}: ${cuda})` : undefined;
    if (why === undefined) return [];
    return containerRuntimes(type, props, context).flatMap(({ label, verb, sparkVersion }) => {
      const problem = gpuRuntimeProblem(sparkVersion);
      return problem ? [`${label} ${verb} ${sparkVersion} ${why}, ${problem}.`] : [];
    });
  }
  return containerSpecs(type, props, context).flatMap((spec) => {
    const why = gpuReason(spec, context);
    if (why === undefined) return [];
    const messages: string[] = [];
    const sparkVersion = read(spec.props, "sparkVersion", context.undefinedMeans);
    const problem = typeof sparkVersion === "string" ? gpuRuntimeProblem(sparkVersion) : undefined;
    if (problem) messages.push(`${spec.label} runs ${String(sparkVersion)} ${why}, ${problem}.`);
    if (read(spec.props, "useMlRuntime", context.undefinedMeans) === true) {
      messages.push(`${spec.label} sets useMlRuntime: true ${why}: a GPU cluster on a custom container runs the standard runtime (its GPU image brings CUDA and the GPU libraries); remove useMlRuntime.`);
    }
    const engine = read(spec.props, "runtimeEngine", context.undefinedMeans);
    if (typeof engine === "string" && engine.toUpperCase() === "PHOTON") {
      messages.push(`${spec.label} sets runtimeEngine: PHOTON ${why}: Photon does not run on GPU instance types; set runtimeEngine: STANDARD or leave it unset.`);
    }
    return messages;
  });
};

/** Why a CUDA cannot run on a runtime's GPU driver, or that the driver is not known; undefined when it runs. */
function cudaOnRuntimeProblem(cuda: string, sparkVersion: string, context: RuleContext): string | undefined {
  const runtime = runtimeOf(sparkVersion);
  const driver = runtime === undefined ? undefined : context.config.gpuDrivers[runtime];
  if (driver === undefined) {
    const known = Object.keys(context.config.gpuDrivers).sort().join(", ") || "none";
    return `the NVIDIA driver of its GPU nodes is not known to the pack (it knows runtimes ${known}); add the runtime's driver to the gpuDrivers setting of ${GPU_DRIVERS_POLICY} ({ "${runtime ?? "<major.minor>"}": "<driver>" }), or choose a runtime it knows`;
  }
  const problem = cudaDriverProblem(cuda, driver);
  return problem
    ? `${problem}; build the image on a CUDA release that driver runs (dcs:images.<name>.gpu.cuda), or choose a runtime whose GPU nodes run a newer driver (the gpuDrivers setting of ${GPU_DRIVERS_POLICY} names them)`
    : undefined;
}

/**
 * A GPU image's CUDA runs on the NVIDIA driver of its runtime's GPU nodes (the driver comes from
 * the host, not the image): the driver from the `gpuDrivers` setting by runtime major.minor, the
 * CUDA from `DCS_CUDA_VERSION` (a pool: its `dcsCuda` tag and each runtime it preloads), checked
 * with `cudaDriverProblem`. A spec's `DCS_CUDA_MIN_DRIVER` is the lowest driver that CUDA runs on
 * (`compatibleDriverFloor`): the init script fails a node whose driver is older, so a wrong figure
 * lets a node through that cannot run the image, or stops one that can.
 */
export const gpuCudaWithinDriver: Rule = (type, props, context) => {
  if (type === INSTANCE_POOL) {
    const cuda = poolCuda(props, context);
    if (typeof cuda !== "string") return [];
    return containerRuntimes(type, props, context).flatMap(({ label, verb, sparkVersion }) => {
      const problem = cudaOnRuntimeProblem(cuda, sparkVersion, context);
      return problem ? [`${label} ${verb} a GPU image on CUDA ${cuda} with ${sparkVersion}: ${problem}.`] : [];
    });
  }
  return containerSpecs(type, props, context).flatMap(({ label, props: spec }) => {
    const cuda = specCuda(spec, context);
    if (typeof cuda !== "string") return [];
    const messages: string[] = [];
    const sparkVersion = read(spec, "sparkVersion", context.undefinedMeans);
    const problem = typeof sparkVersion === "string" ? cudaOnRuntimeProblem(cuda, sparkVersion, context) : undefined;
    if (problem) messages.push(`${label} boots a GPU image on CUDA ${cuda} with ${String(sparkVersion)}: ${problem}.`);
    const floor = compatibleDriverFloor(cuda);
    const minDriver = given(readTagIn(spec, "sparkEnvVars", CUDA_MIN_DRIVER_VAR, context.undefinedMeans));
    if (floor !== undefined && minDriver !== UNKNOWN && minDriver !== floor) {
      const set = minDriver === undefined ? `sets no ${CUDA_MIN_DRIVER_VAR}` : `sets ${CUDA_MIN_DRIVER_VAR} ${minDriver}`;
      messages.push(
        `${label} ${set} for CUDA ${cuda}, which runs on NVIDIA driver ${floor} or newer; the init script checks each node's driver against ${CUDA_MIN_DRIVER_VAR}: set it to ${floor} (dcs-platform sets both variables from dcs:images.<name>.gpu.cuda).`,
      );
    }
    return messages;
  });
};
