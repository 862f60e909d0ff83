/**
 * For the policy tests: what the Pulumi engine hands a policy for a value not
 * known yet (the policy SDK's own sentinel and its unknown-checking proxy), so
 * the rules are tested against exactly what CrossGuard gives them; the stacks
 * the rules are tried on (a sound registry, image, cluster, job and pool, and
 * their GPU kin with node types set); and the runners that evaluate them.
 */
import { createRequire } from "node:module";
import { expect } from "vitest";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { crossGuardPolicies } from "../../policy/crossguard";
import {
  CLUSTER,
  evaluateStack,
  IMAGE,
  INSTANCE_POOL,
  JOB,
  REGISTRY,
  STACK_REFERENCE,
  WORKSPACE_CONF,
  type GuardrailConfig,
  type StackResource,
  type UndefinedMeans,
} from "../../policy/rules";

/** The policy SDK's proxy module: its sentinels and its unknown-checking proxy. */
export const policyInternals = createRequire(__filename)("@pulumi/policy/proxy") as Record<string, unknown> & { unknownCheckingProxy<T>(o: T): T };

/** The string the engine sends for an unknown value. */
export const UNKNOWN_STRING = policyInternals.unknownStringValue as string;

/** Wraps props as CrossGuard does, so reading an unknown value throws as it would under the CLI. */
export function unknownCheckingProxy<T>(o: T): T {
  return policyInternals.unknownCheckingProxy(o);
}

// --- The stacks the rules are tried on -------------------------------------------------------

export const urn = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::dcs-platform::dcs:index:Component$${type}::${name}`;
/** A resource's URN in the prod stack. */
export const prodUrn = (type: string, name: string) => urn("prod", type, name);
export const DIGEST = `dcshydroprod.azurecr.io/hydrology/dask@sha256:${"c".repeat(64)}`;
export const GPU_DIGEST = `dcshydroprod.azurecr.io/hydrology/dask-gpu@sha256:${"9".repeat(64)}`;
export const TAGS = { environment: "prod", team: "hydrology", costCenter: "HYD-4410", managedBy: "dcs-platform" };
export const AUTH = { username: "5b2e7d4a", password: "{{secrets/dcs-hydrology/acr-pull-secret}}" };
/** A GPU node type and a CPU one. */
export const GPU_NODE = "Standard_NC4as_T4_v3";
export const CPU_NODE = "Standard_D4ds_v5";
/** The variables of a cluster booting a GPU image on CUDA 12.6.3 (gpuEnvVars). */
export const CUDA_ENV = { DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" };
/** What the program sets on a cluster booting a CPU image (the Dask variables), and on one booting a GPU image on CUDA 12.6.3 beside them. */
export const CPU_ENV = { DCS_DASK_SCHEDULER_PORT: "8786" };
export const GPU_ENV = { ...CPU_ENV, ...CUDA_ENV };
export const GPU_POOL_ID = "0101-000000-pool-gpu";
export const CPU_POOL_ID = "0101-000000-pool-d4";
/** The GPU guardrails, in the pack's order. */
export const GPU_POLICIES = ["gpu-node-runs-gpu-image", "gpu-image-on-gpu-node", "gpu-runtime-standard", "gpu-cuda-within-driver"];
/** A team stack reading its platform stack. */
export const PLATFORM_REF = { type: STACK_REFERENCE, name: "platform", props: { name: "org/dcs-platform/platform-prod" } };

/** A resource of the prod stack, with no options recorded. */
const resource = (type: string, name: string, props: Record<string, unknown>): StackResource => ({ type, name, urn: urn("prod", type, name), props, opts: {} });

export function registry(props: Record<string, unknown> = {}, protect: boolean | undefined = true, stack = "prod"): StackResource {
  return {
    type: REGISTRY,
    name: "registry-acr",
    urn: urn(stack, REGISTRY, "registry-acr"),
    props: { registryName: "dcshydroprod", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false, tags: TAGS, ...props },
    opts: { protect },
  };
}
export function image(props: Record<string, unknown> = {}): StackResource {
  return resource(IMAGE, "image-image", { imageName: "dcshydroprod.azurecr.io/hydrology/dask:16.4-lts-0123456789ab", build: { context: "infra/image", platform: "linux/amd64" }, ...props });
}
/** A cluster on a custom container, sound under every guardrail; its node types not set. */
export function cluster(props: Record<string, unknown> = {}): StackResource {
  return resource(CLUSTER, "cluster-dask-cluster", {
    dockerImage: { url: DIGEST, basicAuth: { username: "5b2e7d4a", password: "{{secrets/dcs-hydrology/acr-pull-secret}}" } },
    dataSecurityMode: "SINGLE_USER",
    singleUserName: "5b2e7d4a",
    sparkVersion: "16.4.x-scala2.12",
    autoterminationMinutes: 60,
    customTags: TAGS,
    initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
    ...props,
  });
}
export const sound = () => [registry(), image(), cluster(), { type: WORKSPACE_CONF, name: "dcs", props: { customConfig: { enableDcs: "true" } } }];

/**
 * A job cluster's `newCluster`, as computeSpec builds it: no autoterminationMinutes (it ends with
 * its run), drawing from a pool, so its VMs carry the pool's tags and it may not repeat their keys.
 */
export function jobCluster(props: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sparkVersion: "16.4.x-scala2.12",
    instancePoolId: "pool-d4-id",
    driverInstancePoolId: "pool-d4-id",
    numWorkers: 2,
    dataSecurityMode: "SINGLE_USER",
    singleUserName: "5b2e7d4a",
    dockerImage: { url: DIGEST, basicAuth: AUTH },
    initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
    customTags: TAGS,
    ...props,
  };
}
/** A job cluster on its own VMs instead of a pool, with its own cost tags. */
export const UNPOOLED = { instancePoolId: undefined, driverInstancePoolId: undefined, nodeTypeId: "Standard_D4ds_v5", driverNodeTypeId: "Standard_D4ds_v5", customTags: TAGS };
/** A job with a task on its own cluster (`smoke`) and a shared job cluster (`main`) a second task runs on. */
export function job(props: Record<string, unknown> = {}, smoke: Record<string, unknown> = {}): StackResource {
  return resource(JOB, "job-nightly", {
    name: "hydrology-nightly",
    tags: { workload: "nightly-study" },
    jobClusters: [{ jobClusterKey: "main", newCluster: jobCluster() }],
    tasks: [
      { taskKey: "smoke", newCluster: jobCluster(smoke), sparkPythonTask: { pythonFile: "/Workspace/Shared/dcs/prod/jobs/dask_smoke.py" } },
      { taskKey: "study", jobClusterKey: "main", sparkPythonTask: { pythonFile: "/Workspace/Shared/dcs/prod/jobs/study.py" } },
    ],
    schedule: { quartzCronExpression: "0 0 2 * * ?", timezoneId: "Europe/Amsterdam" },
    ...props,
  });
}
/** A warm pool with the image and the runtime preloaded, spot VMs. */
export function pool(props: Record<string, unknown> = {}): StackResource {
  return resource(INSTANCE_POOL, "pool-d4", {
    instancePoolName: "hydrology-prod-d4",
    nodeTypeId: "Standard_D4ds_v5",
    minIdleInstances: 1,
    idleInstanceAutoterminationMinutes: 15,
    preloadedDockerImages: [{ url: DIGEST, basicAuth: AUTH }],
    preloadedSparkVersions: ["16.4.x-scala2.12"],
    azureAttributes: { availability: "SPOT_AZURE", spotBidMaxPrice: -1 },
    customTags: TAGS,
    ...props,
  });
}
export const soundWithJobAndPool = () => [...sound(), pool(), job()];

// --- The same with node types, as the GPU guardrails judge them ------------------------------

/** A CPU cluster on a custom container with its node types and the Dask variables set: sound under every guardrail. */
export const nodeCluster = (props: Record<string, unknown> = {}) => cluster({ nodeTypeId: CPU_NODE, driverNodeTypeId: CPU_NODE, sparkEnvVars: CPU_ENV, ...props });
/** A single-node GPU cluster on a T4, booting the GPU image. */
export const gpuCluster = (props: Record<string, unknown> = {}) =>
  nodeCluster({ dockerImage: { url: GPU_DIGEST, basicAuth: AUTH }, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, numWorkers: 0, sparkEnvVars: GPU_ENV, ...props });
/** A GPU cluster drawing from the GPU pool, as stacks/team.ts declares one: pool ids, no node types. */
export const pooledGpuCluster = (props: Record<string, unknown> = {}) =>
  gpuCluster({ nodeTypeId: undefined, driverNodeTypeId: undefined, instancePoolId: GPU_POOL_ID, driverInstancePoolId: GPU_POOL_ID, ...props });

/** A job cluster on its own VMs; a CPU image on a CPU node unless told otherwise. */
function nodeJobCluster(props: Record<string, unknown> = {}): Record<string, unknown> {
  const { instancePoolId: _pool, driverInstancePoolId: _driverPool, ...unpooled } = jobCluster();
  return { ...unpooled, nodeTypeId: CPU_NODE, driverNodeTypeId: CPU_NODE, sparkEnvVars: CPU_ENV, ...props };
}
/** What a job cluster booting the GPU image on T4 nodes sets. */
export const GPU_JOB_CLUSTER = { dockerImage: { url: GPU_DIGEST, basicAuth: AUTH }, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: GPU_ENV };
/** A job with one task (smoke) on its own cluster, as nodeJobCluster builds it. */
export function nodeJob(smoke: Record<string, unknown> = {}): StackResource {
  const base = job();
  const { jobClusters: _shared, schedule: _schedule, tasks, ...props } = base.props;
  const [smokeTask] = tasks as Record<string, unknown>[];
  return { ...base, props: { ...props, tasks: [{ ...smokeTask, newCluster: nodeJobCluster(smoke) }] } };
}
/** A CPU pool preloading the CPU image, on-demand VMs tagged only with dcsPool; its id known (the pool exists). */
export function cpuPool(props: Record<string, unknown> = {}): StackResource {
  const base = pool({ instancePoolId: CPU_POOL_ID, minIdleInstances: 0, customTags: { dcsPool: "d4" } });
  const { azureAttributes: _spot, ...onDemand } = base.props;
  return { ...base, props: { ...onDemand, ...props } };
}
/** The GPU pool of a team stack: T4 VMs preloading the GPU image, tagged with its CUDA; its id known. */
export function gpuPool(props: Record<string, unknown> = {}): StackResource {
  return {
    ...cpuPool({ instancePoolId: GPU_POOL_ID, instancePoolName: "hydrology-prod-gpu", nodeTypeId: GPU_NODE, preloadedDockerImages: [{ url: GPU_DIGEST, basicAuth: AUTH }], customTags: { dcsPool: "gpu", dcsCuda: "12.6.3" }, ...props }),
    name: "pool-gpu",
    urn: prodUrn(INSTANCE_POOL, "pool-gpu"),
  };
}

/**
 * A value not known yet in each form a policy meets it, for `it.each`: the engine's sentinel, a
 * renderer's placeholder (the one given) and the SDK's unknown.
 */
export const unknownValues = (placeholder: string): [what: string, value: unknown][] => [
  ["an engine sentinel", UNKNOWN_STRING],
  ["a renderer's placeholder", placeholder],
  ["the SDK's unknown", { __pulumiUnknown: true }],
];

// --- Running the rules -----------------------------------------------------------------------

/** The findings of a stack as `enforcement:policy`. */
export const policies = (resources: StackResource[], config: Partial<GuardrailConfig> = {}, undefinedMeans?: UndefinedMeans) =>
  evaluateStack(resources, config, { undefinedMeans }).map((f) => `${f.enforcement}:${f.policy}`);
/** Every finding of a stack, exactly: `policy:resource: message`. */
export const findings = (stack: StackResource[], mode: UndefinedMeans = "absent", config: Partial<GuardrailConfig> = {}) =>
  evaluateStack(stack, config, { undefinedMeans: mode }).map((f) => `${f.policy}:${f.resource}: ${f.message}`);
/** The same in both readings (a bad value that is known violates in either). */
export const inBoth = (stack: () => StackResource[]) => {
  const absent = findings(stack(), "absent");
  expect(findings(stack(), "unknown")).toEqual(absent);
  return absent;
};

// --- The CrossGuard wiring -------------------------------------------------------------------

let crossGuard: ReturnType<typeof crossGuardPolicies> | undefined;
/** The CrossGuard policy of that name. */
export function crossGuardPolicy(name: string) {
  crossGuard ??= crossGuardPolicies();
  return crossGuard.find((p) => p.name === name) as ResourceValidationPolicy & StackValidationPolicy;
}
/** What CrossGuard hands a policy for a resource: its props behind the unknown-checking proxy. */
export function resourceArgs(r: StackResource, config: Record<string, unknown> = {}) {
  return { type: r.type, name: r.name, urn: r.urn ?? "", props: unknownCheckingProxy(r.props), opts: { protect: r.opts?.protect ?? false }, getConfig: () => config };
}
