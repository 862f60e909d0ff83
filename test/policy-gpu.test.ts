/**
 * The GPU guardrails of policy/rules/gpu.ts: GPU nodes boot a GPU image, a GPU
 * image runs on GPU nodes, GPU clusters run a standard runtime key without
 * Photon, and a GPU image's CUDA runs on its runtime's driver. For each, a
 * passing case and the exact violation of a bad cluster, job cluster and pool;
 * pooled clusters judged by their pool's node type; values not known yet; the
 * gpuDrivers setting; the CrossGuard wiring; and the committed dev stack, whose
 * GPU cluster draws from a GPU pool, with that pool's id known.
 */
import { describe, expect, it } from "vitest";
import type { ResourceValidation, ResourceValidationPolicy, StackValidation, StackValidationPolicy } from "@pulumi/policy";
import { configSchemaOf, crossGuardPolicies } from "../policy/crossguard";
import {
  CLUSTER,
  DEFAULT_CONFIG,
  evaluateStack,
  GUARDRAILS,
  INSTANCE_POOL,
  isMlRuntimeKey,
  JOB,
  REGISTRY,
  runtimeOf,
  specNodeTypes,
  standardRuntimeKey,
  type GuardrailConfig,
  type StackResource,
  type UndefinedMeans,
} from "../policy/rules";
import { RUNTIME_GPU_FACTS } from "../components/gpu";
import type { Rendering } from "../stacks/render/engine";
import { renderForTest } from "./helpers/record";
import { UNKNOWN_STRING, unknownCheckingProxy } from "./helpers/policy";


const urn = (type: string, name: string) => `urn:pulumi:prod::dcs-platform::dcs:index:Component$${type}::${name}`;
const DIGEST = `dcshydroprod.azurecr.io/hydrology/dask@sha256:${"c".repeat(64)}`;
const GPU_DIGEST = `dcshydroprod.azurecr.io/hydrology/dask-gpu@sha256:${"9".repeat(64)}`;
const TAGS = { environment: "prod", team: "hydrology", costCenter: "HYD-4410", managedBy: "dcs-platform" };
const AUTH = { username: "5b2e7d4a", password: "{{secrets/dcs-hydrology/acr-pull-secret}}" };
const GPU_NODE = "Standard_NC4as_T4_v3";
const CPU_NODE = "Standard_D4ds_v5";
/** What the program sets on a cluster booting a GPU image on CUDA 12.6.3 (gpuEnvVars), beside the Dask variables. */
const CPU_ENV = { DCS_DASK_SCHEDULER_PORT: "8786" };
const GPU_ENV = { ...CPU_ENV, DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" };
const GPU_POOL_ID = "0101-000000-pool-gpu";
const CPU_POOL_ID = "0101-000000-pool-d4";
const GPU_SIZES = "an Azure GPU size: Standard_NC*, Standard_ND* or Standard_NV*";

function registry(): StackResource {
  return {
    type: REGISTRY,
    name: "registry-acr",
    urn: urn(REGISTRY, "registry-acr"),
    props: { registryName: "dcshydroprod", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false, tags: TAGS },
    opts: { protect: true },
  };
}
/** A CPU cluster on a custom container, as policy-rules.test.ts's `cluster`: sound under every guardrail. */
function cluster(props: Record<string, unknown> = {}): StackResource {
  return {
    type: CLUSTER,
    name: "cluster-dask-cluster",
    urn: urn(CLUSTER, "cluster-dask-cluster"),
    props: {
      dockerImage: { url: DIGEST, basicAuth: AUTH },
      dataSecurityMode: "SINGLE_USER",
      singleUserName: "5b2e7d4a",
      sparkVersion: "16.4.x-scala2.12",
      nodeTypeId: CPU_NODE,
      driverNodeTypeId: CPU_NODE,
      sparkEnvVars: CPU_ENV,
      autoterminationMinutes: 60,
      customTags: TAGS,
      initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
      ...props,
    },
    opts: {},
  };
}
/** A single-node GPU cluster on a T4, booting the GPU image. */
const gpuCluster = (props: Record<string, unknown> = {}) =>
  cluster({ dockerImage: { url: GPU_DIGEST, basicAuth: AUTH }, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, numWorkers: 0, sparkEnvVars: GPU_ENV, ...props });
/** A GPU cluster drawing from the GPU pool, as stacks/team.ts declares one: pool ids, no node types. */
const pooledGpuCluster = (props: Record<string, unknown> = {}) =>
  gpuCluster({ nodeTypeId: undefined, driverNodeTypeId: undefined, instancePoolId: GPU_POOL_ID, driverInstancePoolId: GPU_POOL_ID, ...props });

/** A job cluster of a job (task smoke), on its own VMs; a CPU image on a CPU node unless told otherwise. */
function jobCluster(props: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sparkVersion: "16.4.x-scala2.12",
    nodeTypeId: CPU_NODE,
    driverNodeTypeId: CPU_NODE,
    numWorkers: 2,
    dataSecurityMode: "SINGLE_USER",
    singleUserName: "5b2e7d4a",
    dockerImage: { url: DIGEST, basicAuth: AUTH },
    sparkEnvVars: CPU_ENV,
    initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
    customTags: TAGS,
    ...props,
  };
}
const GPU_JOB_CLUSTER = { dockerImage: { url: GPU_DIGEST, basicAuth: AUTH }, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: GPU_ENV };
function job(smoke: Record<string, unknown> = {}): StackResource {
  return {
    type: JOB,
    name: "job-nightly",
    urn: urn(JOB, "job-nightly"),
    props: {
      name: "hydrology-nightly",
      tags: { workload: "nightly-study" },
      tasks: [{ taskKey: "smoke", newCluster: jobCluster(smoke), sparkPythonTask: { pythonFile: "/Workspace/Shared/dcs/prod/jobs/dask_smoke.py" } }],
    },
    opts: {},
  };
}
/** A CPU pool preloading the CPU image; its id known (the pool exists). */
function pool(props: Record<string, unknown> = {}): StackResource {
  return {
    type: INSTANCE_POOL,
    name: "pool-d4",
    urn: urn(INSTANCE_POOL, "pool-d4"),
    props: {
      instancePoolId: CPU_POOL_ID,
      instancePoolName: "hydrology-prod-d4",
      nodeTypeId: CPU_NODE,
      minIdleInstances: 0,
      idleInstanceAutoterminationMinutes: 15,
      preloadedDockerImages: [{ url: DIGEST, basicAuth: AUTH }],
      preloadedSparkVersions: ["16.4.x-scala2.12"],
      customTags: { dcsPool: "d4" },
      ...props,
    },
    opts: {},
  };
}
/** The GPU pool of a team stack: T4 VMs preloading the GPU image, tagged with its CUDA; its id known. */
function gpuPool(props: Record<string, unknown> = {}): StackResource {
  return {
    ...pool({ instancePoolId: GPU_POOL_ID, instancePoolName: "hydrology-prod-gpu", nodeTypeId: GPU_NODE, preloadedDockerImages: [{ url: GPU_DIGEST, basicAuth: AUTH }], customTags: { dcsPool: "gpu", dcsCuda: "12.6.3" }, ...props }),
    name: "pool-gpu",
    urn: urn(INSTANCE_POOL, "pool-gpu"),
  };
}

/** Every finding of a stack, exactly: `policy:resource: message`. */
const findings = (stack: StackResource[], mode: UndefinedMeans = "absent", config: Partial<GuardrailConfig> = {}) =>
  evaluateStack(stack, config, { undefinedMeans: mode }).map((f) => `${f.policy}:${f.resource}: ${f.message}`);
/** The same in both readings (a bad value that is known violates in either). */
const inBoth = (stack: () => StackResource[]) => {
  const absent = findings(stack(), "absent");
  expect(findings(stack(), "unknown")).toEqual(absent);
  return absent;
};

const GPU_POLICIES = ["gpu-node-runs-gpu-image", "gpu-image-on-gpu-node", "gpu-runtime-standard", "gpu-cuda-within-driver"];

describe("the GPU guardrails (issue: every rule in 3 is a guardrail with a test)", () => {
  it("are mandatory guardrails of the pack that judge clusters, jobs and pools, after the runtime rule", () => {
    const names = GUARDRAILS.map((g) => g.name);
    expect(names.slice(names.indexOf("cluster-runtime-supports-containers") + 1, names.indexOf("cluster-runtime-supports-containers") + 5)).toEqual(GPU_POLICIES);
    for (const name of GPU_POLICIES) {
      const g = GUARDRAILS.find((x) => x.name === name)!;
      expect(g.enforcement).toBe("mandatory");
      expect(g.appliesTo).toEqual([CLUSTER, JOB, INSTANCE_POOL]);
      expect(g.description.length).toBeGreaterThan(40);
      expect(g.remediation.length).toBeGreaterThan(40);
      expect(g.scope).toBe(name === "gpu-cuda-within-driver" ? "resource" : "stack"); // the stack ones read a pooled cluster's pool
      expect(g.configKeys).toEqual(name === "gpu-cuda-within-driver" ? ["gpuDrivers"] : []);
    }
  });

  it("default gpuDrivers to the runtimes' drivers of components/gpu.ts, and expose it as a setting", () => {
    expect(DEFAULT_CONFIG.gpuDrivers).toEqual({ "15.4": RUNTIME_GPU_FACTS["15.4"].driver, "16.4": RUNTIME_GPU_FACTS["16.4"].driver });
    expect(configSchemaOf(GUARDRAILS.find((g) => g.name === "gpu-cuda-within-driver")!)?.properties.gpuDrivers).toMatchObject({ type: "object", default: DEFAULT_CONFIG.gpuDrivers });
  });

  it.each(["unknown", "absent"] as const)("pass a sound GPU stack: a GPU cluster, a pooled GPU cluster, its pool, a GPU job cluster, CPU ones beside (undefined means %s)", (mode) => {
    const stack = [registry(), cluster(), gpuCluster(), { ...pooledGpuCluster(), name: "cluster-gpu-cluster" }, gpuPool(), pool(), job(GPU_JOB_CLUSTER), { ...job(), name: "job-cpu" }];
    expect(findings(stack, mode)).toEqual([]);
  });

  it("leave clusters without a custom container alone: Databricks' own GPU ML runtime on a GPU node", () => {
    expect(findings([registry(), cluster({ dockerImage: undefined, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkVersion: "16.4.x-gpu-ml-scala2.12", sparkEnvVars: {} })])).toEqual([]);
  });
});

describe("gpu-node-runs-gpu-image", () => {
  const message = (label: string, nodeType: string) =>
    `${label} runs on GPU node type ${nodeType} but boots a CPU image (no DCS_CUDA_VERSION in sparkEnvVars), which leaves the GPUs unused; boot a GPU image (an image of dcs:images with gpu.cuda) or choose a CPU node type.`;

  it("passes a GPU node booting a GPU image, and a CPU node booting a CPU image", () => {
    expect(inBoth(() => [registry(), gpuCluster(), cluster()])).toEqual([]);
  });

  it("refuses a GPU node booting a CPU image", () => {
    expect(inBoth(() => [registry(), cluster({ nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE })])).toEqual([
      `gpu-node-runs-gpu-image:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", GPU_NODE)}`,
    ]);
  });

  it("refuses a GPU driver alone, naming it; a driver not set runs on the workers' node type", () => {
    expect(findings([registry(), cluster({ driverNodeTypeId: "Standard_NC6s_v3" })])).toEqual([
      `gpu-node-runs-gpu-image:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", "Standard_NC6s_v3 (driver)")}`,
    ]);
    expect(findings([registry(), cluster({ nodeTypeId: "Standard_ND96asr_v4", driverNodeTypeId: undefined })])).toEqual([
      `gpu-node-runs-gpu-image:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", "Standard_ND96asr_v4")}`,
    ]);
  });

  it("refuses a pooled cluster booting a CPU image from a pool of a GPU size, once the pool's id is known", () => {
    const bad = () => [registry(), pooledGpuCluster({ dockerImage: { url: DIGEST, basicAuth: AUTH }, sparkEnvVars: CPU_ENV }), gpuPool()];
    expect(inBoth(bad)).toEqual([`gpu-node-runs-gpu-image:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", `${GPU_NODE} (pool pool-gpu)`)}`]);
    // Workers from a CPU pool, the driver from the GPU pool.
    expect(findings([registry(), pooledGpuCluster({ instancePoolId: CPU_POOL_ID, sparkEnvVars: CPU_ENV }), gpuPool(), pool()])).toEqual([
      `gpu-node-runs-gpu-image:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", `${GPU_NODE} (driver, pool pool-gpu)`)}`,
    ]);
    // The driver draws from the workers' pool when driverInstancePoolId is not set.
    expect(findings([registry(), pooledGpuCluster({ driverInstancePoolId: undefined, sparkEnvVars: CPU_ENV }), gpuPool()])).toHaveLength(1);
  });

  it("does not judge a pooled cluster while its pool's id is not known, or the pool is not in the stack", () => {
    const cpuImage = { sparkEnvVars: CPU_ENV };
    for (const mode of ["unknown", "absent"] as const) {
      expect(findings([registry(), pooledGpuCluster(cpuImage), gpuPool({ instancePoolId: UNKNOWN_STRING })], mode)).toEqual([]);
      expect(findings([registry(), pooledGpuCluster(cpuImage), gpuPool({ instancePoolId: undefined })], mode)).toEqual([]);
      expect(findings([registry(), pooledGpuCluster({ ...cpuImage, instancePoolId: "(computed: pool-gpu-pool.id)", driverInstancePoolId: "(computed: pool-gpu-pool.id)" }), gpuPool()], mode)).toEqual([]);
      expect(findings([registry(), pooledGpuCluster(cpuImage)], mode)).toEqual([]);
    }
  });

  it("refuses a job cluster on a GPU node booting a CPU image, naming the job and the task", () => {
    expect(inBoth(() => [registry(), job({ nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE })])).toEqual([
      `gpu-node-runs-gpu-image:job-nightly: ${message("job job-nightly, task smoke", GPU_NODE)}`,
    ]);
  });

  it("refuses a pool of a GPU size that preloads a CPU image (no dcsCuda tag); a GPU pool preloading nothing is not judged", () => {
    expect(inBoth(() => [registry(), gpuPool({ customTags: { dcsPool: "gpu" } })])).toEqual([
      `gpu-node-runs-gpu-image:pool-gpu: pool pool-gpu preloads an image on GPU node type ${GPU_NODE}, but not a GPU image (no dcsCuda custom tag); preload a GPU image (an image of dcs:images with gpu.cuda) or choose a CPU node type.`,
    ]);
    expect(findings([registry(), gpuPool({ customTags: { dcsPool: "gpu" }, preloadedDockerImages: [] })])).toEqual([]);
    expect(findings([registry(), gpuPool()])).toEqual([]);
  });
});

describe("gpu-image-on-gpu-node", () => {
  const message = (label: string, nodeType: string) =>
    `${label} boots a GPU image (DCS_CUDA_VERSION 12.6.3) on node type ${nodeType}, which has no GPU; run it on ${GPU_SIZES} (workers and driver), or boot a CPU image.`;

  it("passes a GPU image on GPU nodes, directly and from a GPU pool", () => {
    expect(inBoth(() => [registry(), gpuCluster(), gpuPool()])).toEqual([]);
    expect(inBoth(() => [registry(), pooledGpuCluster(), gpuPool()])).toEqual([]);
  });

  it("refuses a GPU image on a CPU node type", () => {
    expect(inBoth(() => [registry(), gpuCluster({ nodeTypeId: CPU_NODE, driverNodeTypeId: CPU_NODE })])).toEqual([
      `gpu-image-on-gpu-node:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", CPU_NODE)}`,
    ]);
  });

  it("refuses a GPU image whose driver alone is a CPU node type", () => {
    expect(findings([registry(), gpuCluster({ driverNodeTypeId: CPU_NODE })])).toEqual([`gpu-image-on-gpu-node:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", `${CPU_NODE} (driver)`)}`]);
  });

  it("refuses a GPU image drawn from a CPU pool", () => {
    expect(inBoth(() => [registry(), pooledGpuCluster({ instancePoolId: CPU_POOL_ID, driverInstancePoolId: CPU_POOL_ID }), pool()])).toEqual([
      `gpu-image-on-gpu-node:cluster-dask-cluster: ${message("cluster cluster-dask-cluster", `${CPU_NODE} (pool pool-d4)`)}`,
    ]);
  });

  it("refuses a job cluster booting a GPU image on a CPU node type", () => {
    expect(inBoth(() => [registry(), job({ ...GPU_JOB_CLUSTER, nodeTypeId: CPU_NODE, driverNodeTypeId: CPU_NODE })])).toEqual([
      `gpu-image-on-gpu-node:job-nightly: ${message("job job-nightly, task smoke", CPU_NODE)}`,
    ]);
  });

  it("refuses a pool tagged with a CUDA on a CPU node type", () => {
    expect(inBoth(() => [registry(), pool({ customTags: { dcsPool: "d4", dcsCuda: "12.6.3" } })])).toEqual([
      `gpu-image-on-gpu-node:pool-d4: pool pool-d4 preloads a GPU image (dcsCuda: 12.6.3) on node type ${CPU_NODE}, which has no GPU; choose ${GPU_SIZES}, or preload a CPU image.`,
    ]);
  });
});

describe("gpu-runtime-standard", () => {
  const ml = (label: string, key: string, why: string) =>
    `${label} runs ${key} ${why}, an ML runtime: a GPU cluster on a custom container runs a standard runtime key such as ${standardRuntimeKey(key)} and its GPU image brings CUDA and the GPU libraries (ML runtimes do not support custom containers).`;
  const photonKey = (label: string, key: string, why: string) =>
    `${label} runs ${key} ${why}, a Photon runtime: Photon does not run on GPU instance types; choose the runtime without Photon such as ${standardRuntimeKey(key)}.`;
  const engine = (label: string, why: string) => `${label} sets runtimeEngine: PHOTON ${why}: Photon does not run on GPU instance types; set runtimeEngine: STANDARD or leave it unset.`;
  const ON_GPU = `on GPU node type ${GPU_NODE}`;
  const runtimeRule = (label: string, key: string) =>
    `cluster-runtime-supports-containers:${label.startsWith("job") ? "job-nightly" : label.startsWith("pool") ? "pool-gpu" : "cluster-dask-cluster"}: ${label} ${label.startsWith("pool") ? "preloads" : "runs"} ${key}: ML runtimes do not support custom containers; choose a standard runtime such as 16.4.x-scala2.12.`;

  it("passes a GPU cluster on a standard key with runtimeEngine STANDARD, and Photon on a CPU cluster", () => {
    expect(inBoth(() => [registry(), gpuCluster({ runtimeEngine: "STANDARD" }), gpuPool()])).toEqual([]);
    expect(inBoth(() => [registry(), cluster({ sparkVersion: "16.4.x-photon-scala2.12", runtimeEngine: "PHOTON" })])).toEqual([]);
  });

  it("refuses an ML and a gpu-ml runtime key on a GPU node (beside the runtime rule's own finding)", () => {
    for (const key of ["16.4.x-cpu-ml-scala2.12", "15.4.x-gpu-ml-scala2.12"]) {
      expect(inBoth(() => [registry(), gpuCluster({ sparkVersion: key })])).toEqual([
        runtimeRule("cluster cluster-dask-cluster", key),
        `gpu-runtime-standard:cluster-dask-cluster: ${ml("cluster cluster-dask-cluster", key, ON_GPU)}`,
      ]);
    }
    expect(standardRuntimeKey("15.4.x-gpu-ml-scala2.12")).toBe("15.4.x-scala2.12");
  });

  it("refuses useMlRuntime on a GPU node", () => {
    expect(findings([registry(), gpuCluster({ useMlRuntime: true })])).toEqual([
      `gpu-runtime-standard:cluster-dask-cluster: cluster cluster-dask-cluster sets useMlRuntime: true ${ON_GPU}: a GPU cluster on a custom container runs the standard runtime (its GPU image brings CUDA and the GPU libraries); remove useMlRuntime.`,
    ]);
  });

  it("refuses a Photon runtime key and runtimeEngine PHOTON on a GPU node", () => {
    expect(inBoth(() => [registry(), gpuCluster({ sparkVersion: "16.4.x-photon-scala2.12" })])).toEqual([
      `gpu-runtime-standard:cluster-dask-cluster: ${photonKey("cluster cluster-dask-cluster", "16.4.x-photon-scala2.12", ON_GPU)}`,
    ]);
    expect(inBoth(() => [registry(), gpuCluster({ runtimeEngine: "PHOTON" })])).toEqual([`gpu-runtime-standard:cluster-dask-cluster: ${engine("cluster cluster-dask-cluster", ON_GPU)}`]);
  });

  it("refuses Photon with a GPU image on a node type not known (a GPU image is a GPU cluster too)", () => {
    const why = "with a GPU image (DCS_CUDA_VERSION 12.6.3)";
    expect(findings([registry(), pooledGpuCluster({ runtimeEngine: "PHOTON" })])).toEqual([`gpu-runtime-standard:cluster-dask-cluster: ${engine("cluster cluster-dask-cluster", why)}`]);
  });

  it("refuses Photon on a pooled cluster whose pool is a GPU size, with a CPU image too", () => {
    expect(findings([registry(), pooledGpuCluster({ sparkEnvVars: CPU_ENV, dockerImage: { url: DIGEST, basicAuth: AUTH }, runtimeEngine: "PHOTON" }), gpuPool()])).toEqual([
      `gpu-node-runs-gpu-image:cluster-dask-cluster: cluster cluster-dask-cluster runs on GPU node type ${GPU_NODE} (pool pool-gpu) but boots a CPU image (no DCS_CUDA_VERSION in sparkEnvVars), which leaves the GPUs unused; boot a GPU image (an image of dcs:images with gpu.cuda) or choose a CPU node type.`,
      `gpu-runtime-standard:cluster-dask-cluster: ${engine("cluster cluster-dask-cluster", `on GPU node type ${GPU_NODE} (pool pool-gpu)`)}`,
    ]);
  });

  it("refuses a job cluster on a GPU node with a gpu-ml key, and one with runtimeEngine PHOTON", () => {
    expect(inBoth(() => [registry(), job({ ...GPU_JOB_CLUSTER, sparkVersion: "16.4.x-gpu-ml-scala2.12" })])).toEqual([
      runtimeRule("job job-nightly, task smoke", "16.4.x-gpu-ml-scala2.12"),
      `gpu-runtime-standard:job-nightly: ${ml("job job-nightly, task smoke", "16.4.x-gpu-ml-scala2.12", ON_GPU)}`,
    ]);
    expect(inBoth(() => [registry(), job({ ...GPU_JOB_CLUSTER, runtimeEngine: "PHOTON" })])).toEqual([`gpu-runtime-standard:job-nightly: ${engine("job job-nightly, task smoke", ON_GPU)}`]);
  });

  it("refuses a GPU pool preloading a Photon or an ML runtime", () => {
    expect(inBoth(() => [registry(), gpuPool({ preloadedSparkVersions: ["16.4.x-scala2.12", "16.4.x-photon-scala2.12"] })])).toEqual([
      `gpu-runtime-standard:pool-gpu: ${photonKey("pool pool-gpu", "16.4.x-photon-scala2.12", ON_GPU).replace(" runs ", " preloads ")}`,
    ]);
    expect(inBoth(() => [registry(), gpuPool({ preloadedSparkVersions: ["16.4.x-gpu-ml-scala2.12"] })])).toEqual([
      runtimeRule("pool pool-gpu", "16.4.x-gpu-ml-scala2.12"),
      `gpu-runtime-standard:pool-gpu: ${ml("pool pool-gpu", "16.4.x-gpu-ml-scala2.12", ON_GPU).replace(" runs ", " preloads ")}`,
    ]);
  });

  it("reads runtime keys as components/naming.ts does", () => {
    expect(["16.4.x-cpu-ml-scala2.12", "16.4.x-gpu-ml-scala2.12", "16.4.x-ml-scala2.12"].every(isMlRuntimeKey)).toBe(true);
    expect(["16.4.x-scala2.12", "16.4.x-photon-scala2.12"].some(isMlRuntimeKey)).toBe(false);
    expect(runtimeOf("16.4.x-scala2.12")).toBe("16.4");
    expect(runtimeOf("custom:1")).toBeUndefined();
  });
});

describe("gpu-cuda-within-driver", () => {
  const tooNew = (label: string, verb: string, runtime: string) =>
    `${label} ${verb} a GPU image on CUDA 13.0.1 with ${runtime}: CUDA 13.0.1 needs NVIDIA driver 580 or newer, and the runtime's GPU nodes run 535.54.03; build the image on a CUDA release that driver runs (dcs:images.<name>.gpu.cuda), or choose a runtime whose GPU nodes run a newer driver (the gpuDrivers setting of gpu-cuda-within-driver names them).`;
  const CUDA13 = { ...GPU_ENV, DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: "580" };

  it("passes CUDA 12.6 on the 535 driver (minor version compatibility) and CUDA 12.2 with its own floor", () => {
    expect(inBoth(() => [registry(), gpuCluster(), gpuPool()])).toEqual([]);
    expect(inBoth(() => [registry(), gpuCluster({ sparkVersion: "15.4.x-scala2.12", sparkEnvVars: { DCS_CUDA_VERSION: "12.2.2", DCS_CUDA_MIN_DRIVER: "525.60.13" } })])).toEqual([]);
  });

  it("refuses CUDA 13 on the 535 driver, and passes it once gpuDrivers says the runtime's nodes run 580", () => {
    expect(inBoth(() => [registry(), gpuCluster({ sparkEnvVars: CUDA13 })])).toEqual([`gpu-cuda-within-driver:cluster-dask-cluster: ${tooNew("cluster cluster-dask-cluster", "boots", "16.4.x-scala2.12")}`]);
    expect(findings([registry(), gpuCluster({ sparkEnvVars: CUDA13 })], "absent", { gpuDrivers: { "16.4": "580.65.06" } })).toEqual([]);
  });

  it("refuses a DCS_CUDA_MIN_DRIVER other than the CUDA's driver floor, or none", () => {
    const wrong = (given: string) =>
      `gpu-cuda-within-driver:cluster-dask-cluster: cluster cluster-dask-cluster ${given} for CUDA 12.6.3, which runs on NVIDIA driver 525.60.13 or newer; the init script checks each node's driver against DCS_CUDA_MIN_DRIVER: set it to 525.60.13 (dcs-platform sets both variables from dcs:images.<name>.gpu.cuda).`;
    expect(inBoth(() => [registry(), gpuCluster({ sparkEnvVars: { ...GPU_ENV, DCS_CUDA_MIN_DRIVER: "560.28.03" } })])).toEqual([wrong("sets DCS_CUDA_MIN_DRIVER 560.28.03")]);
    expect(inBoth(() => [registry(), gpuCluster({ sparkEnvVars: { DCS_CUDA_VERSION: "12.6.3" } })])).toEqual([wrong("sets no DCS_CUDA_MIN_DRIVER")]);
  });

  it("refuses a runtime whose GPU driver the pack does not know, naming the setting to add it to", () => {
    expect(inBoth(() => [registry(), gpuCluster({ sparkVersion: "17.3.x-scala2.13" })])).toEqual([
      `gpu-cuda-within-driver:cluster-dask-cluster: cluster cluster-dask-cluster boots a GPU image on CUDA 12.6.3 with 17.3.x-scala2.13: the NVIDIA driver of its GPU nodes is not known to the pack (it knows runtimes 15.4, 16.4); add the runtime's driver to the gpuDrivers setting of gpu-cuda-within-driver ({ "17.3": "<driver>" }), or choose a runtime it knows.`,
    ]);
    expect(findings([registry(), gpuCluster({ sparkVersion: "17.3.x-scala2.13" })], "absent", { gpuDrivers: { ...DEFAULT_CONFIG.gpuDrivers, "17.3": "570.86.10" } })).toEqual([]);
  });

  it("refuses a job cluster booting CUDA 13 on the 535 driver", () => {
    expect(inBoth(() => [registry(), job({ ...GPU_JOB_CLUSTER, sparkEnvVars: CUDA13 })])).toEqual([`gpu-cuda-within-driver:job-nightly: ${tooNew("job job-nightly, task smoke", "boots", "16.4.x-scala2.12")}`]);
  });

  it("refuses a pool preloading a CUDA 13 image with a runtime on the 535 driver", () => {
    expect(inBoth(() => [registry(), gpuPool({ customTags: { dcsPool: "gpu", dcsCuda: "13.0.1" }, preloadedSparkVersions: ["16.4.x-scala2.12"] })])).toEqual([
      `gpu-cuda-within-driver:pool-gpu: ${tooNew("pool pool-gpu", "preloads", "16.4.x-scala2.12")}`,
    ]);
  });
});

describe("values not known yet never violate a GPU guardrail", () => {
  // Each value below would violate a GPU guardrail if it were known to be wrong.
  const unknownSpecs = (u: unknown) => [
    registry(),
    cluster({ nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: u }), // GPU node, image not known
    cluster({ nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: { DCS_CUDA_VERSION: u } }),
    gpuCluster({ nodeTypeId: u, driverNodeTypeId: u, sparkVersion: u, runtimeEngine: u, sparkEnvVars: { ...GPU_ENV, DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: u } }),
    gpuCluster({ sparkEnvVars: { ...GPU_ENV, DCS_CUDA_MIN_DRIVER: u } }),
    pooledGpuCluster({ instancePoolId: u, driverInstancePoolId: u, sparkEnvVars: CPU_ENV }),
    gpuPool({ customTags: { dcsPool: "gpu", dcsCuda: u } }),
    pool({ nodeTypeId: u, customTags: { dcsPool: "d4", dcsCuda: "12.6.3" } }),
    gpuPool({ customTags: u }), // a GPU pool whose tags are not known
    job({ ...GPU_JOB_CLUSTER, nodeTypeId: u, driverNodeTypeId: u, sparkVersion: u, sparkEnvVars: { ...GPU_ENV, DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: "580" }, dockerImage: { url: u, basicAuth: AUTH } }),
  ];

  it.each([
    ["an engine sentinel", UNKNOWN_STRING],
    ["a renderer's placeholder", "(computed: pool-gpu-pool.id)"],
    ["the SDK's unknown", { __pulumiUnknown: true }],
  ])("%s, in either mode", (_what, u) => {
    for (const mode of ["unknown", "absent"] as const) {
      expect(findings(unknownSpecs(u), mode).filter((f) => GPU_POLICIES.some((p) => f.startsWith(`${p}:`)))).toEqual([]);
    }
  });

  it("undefined in a recorded preview, while the same property not set is judged where unknowns are marked", () => {
    const noMinDriver = () => [registry(), gpuCluster({ sparkEnvVars: { DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: undefined } })];
    expect(findings(noMinDriver(), "unknown")).toEqual([]);
    expect(findings(noMinDriver(), "absent")).toHaveLength(1);
    // A GPU node type without sparkEnvVars: not known in a recorded preview; a CPU image where undefined is absent.
    const noEnv = () => [registry(), gpuCluster({ sparkEnvVars: undefined, dockerImage: { url: DIGEST, basicAuth: AUTH } })];
    expect(findings(noEnv(), "unknown")).toEqual([]);
    expect(findings(noEnv(), "absent").map((f) => f.split(":")[0])).toEqual(["gpu-node-runs-gpu-image"]);
  });

  it("resolves node types through pools only by a known id", () => {
    const context = { name: "c", config: DEFAULT_CONFIG, undefinedMeans: "absent" as const, stack: [gpuPool(), pool()] };
    expect(specNodeTypes({ instancePoolId: GPU_POOL_ID }, context)).toEqual([{ nodeType: GPU_NODE, roles: ["workers", "driver"], pool: "pool-gpu" }]);
    expect(specNodeTypes({ instancePoolId: CPU_POOL_ID, driverInstancePoolId: GPU_POOL_ID }, context)).toEqual([
      { nodeType: CPU_NODE, roles: ["workers"], pool: "pool-d4" },
      { nodeType: GPU_NODE, roles: ["driver"], pool: "pool-gpu" },
    ]);
    expect(specNodeTypes({ instancePoolId: UNKNOWN_STRING }, context)).toEqual([]);
    expect(specNodeTypes({ instancePoolId: "0101-elsewhere" }, context)).toEqual([]);
    expect(specNodeTypes({ nodeTypeId: CPU_NODE }, context)).toEqual([{ nodeType: CPU_NODE, roles: ["workers", "driver"] }]);
    expect(specNodeTypes({ nodeTypeId: CPU_NODE }, { ...context, undefinedMeans: "unknown" })).toEqual([{ nodeType: CPU_NODE, roles: ["workers"] }]);
  });
});

describe("the GPU guardrails under CrossGuard (policy/crossguard.ts)", () => {
  const all = crossGuardPolicies();
  const byName = (name: string) => all.find((p) => p.name === name) as ResourceValidationPolicy & StackValidationPolicy;
  const args = (r: StackResource, config: Record<string, unknown> = {}) => ({
    type: r.type,
    name: r.name,
    urn: r.urn ?? "",
    props: unknownCheckingProxy(r.props),
    opts: { protect: r.opts?.protect ?? false },
    getConfig: () => config,
  });

  it("validate the stack behind the unknown-checking proxy, reporting a pooled cluster on a GPU pool against its URN", () => {
    const stack = [registry(), pooledGpuCluster({ sparkEnvVars: CPU_ENV }), gpuPool(), pooledGpuCluster({ instancePoolId: UNKNOWN_STRING, driverInstancePoolId: UNKNOWN_STRING, sparkEnvVars: UNKNOWN_STRING })];
    stack[3] = { ...stack[3], name: "other", urn: urn(CLUSTER, "other") };
    const reports: [string, string | undefined][] = [];
    for (const name of GPU_POLICIES.filter((n) => GUARDRAILS.find((g) => g.name === n)?.scope === "stack")) {
      const validate: StackValidation = byName(name).validateStack;
      void validate({ resources: stack.map((r) => args(r)), getConfig: () => ({}) } as never, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([[expect.stringMatching(/^cluster cluster-dask-cluster runs on GPU node type Standard_NC4as_T4_v3 \(pool pool-gpu\) but boots a CPU image/), urn(CLUSTER, "cluster-dask-cluster")]]);
  });

  it("validate a resource with the gpuDrivers of the pack config", () => {
    const run = (r: StackResource, config: Record<string, unknown>) => {
      const reports: string[] = [];
      const validate = byName("gpu-cuda-within-driver").validateResource as ResourceValidation;
      void validate(args(r, config) as never, (m) => reports.push(m));
      return reports;
    };
    const cuda13 = gpuCluster({ sparkEnvVars: { DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: "580" } });
    expect(run(cuda13, {})).toEqual([expect.stringMatching(/CUDA 13\.0\.1 needs NVIDIA driver 580 or newer, and the runtime's GPU nodes run 535\.54\.03/)]);
    expect(run(cuda13, { gpuDrivers: { "16.4": "580.65.06" } })).toEqual([]);
    expect(run(gpuCluster({ sparkEnvVars: UNKNOWN_STRING, sparkVersion: UNKNOWN_STRING }), {})).toEqual([]);
  });
});

describe("the committed dev stack's GPU cluster and pool", () => {
  /**
   * The rendered stack (simulated cloud values) with the GPU pool's `instancePoolId` output set to the
   * id its cluster names, as a stack policy sees the pool after the update.
   */
  async function devWithPoolId(poolNodeType?: string): Promise<StackResource[]> {
    const r: Rendering = await renderForTest("dev");
    const stack: StackResource[] = r.resources.filter((x) => x.custom).map((x) => ({ type: x.type, name: x.name, urn: x.urn, props: structuredClone(x.inputs), opts: { protect: x.protect } }));
    const id = stack.find((x) => x.name === "cluster-gpu-cluster")?.props.instancePoolId;
    expect(typeof id === "string" && !id.startsWith("(computed:")).toBe(true);
    const gpuPoolResource = stack.find((x) => x.name === "pool-gpu-pool")!;
    Object.assign(gpuPoolResource.props, { instancePoolId: id }, poolNodeType ? { nodeTypeId: poolNodeType } : {});
    return stack;
  }

  it("declares a GPU cluster drawing from a GPU pool, and passes every guardrail once the pool's id is known", async () => {
    const stack = await devWithPoolId();
    const gpu = stack.find((x) => x.name === "cluster-gpu-cluster")!;
    expect(gpu.props).toMatchObject({ driverInstancePoolId: gpu.props.instancePoolId, sparkEnvVars: { DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" } });
    expect(stack.find((x) => x.name === "pool-gpu-pool")?.props).toMatchObject({ nodeTypeId: GPU_NODE, customTags: { dcsCuda: "12.6.3" } });
    expect(evaluateStack(stack, {}, { undefinedMeans: "absent" })).toEqual([]);
    expect(evaluateStack(stack)).toEqual([]);
  }, 60_000);

  it("would be refused with its pool on a CPU size", async () => {
    const stack = await devWithPoolId(CPU_NODE);
    expect(evaluateStack(stack, {}, { undefinedMeans: "absent" }).map((f) => `${f.policy}:${f.resource}`)).toEqual([
      "gpu-image-on-gpu-node:cluster-gpu-cluster",
      "gpu-image-on-gpu-node:pool-gpu-pool",
    ]);
  }, 60_000);
});
