/**
 * The GPU guardrails of policy/rules/gpu.ts: GPU nodes boot a GPU image, a GPU
 * image runs on GPU nodes, GPU clusters run a standard runtime key without
 * Photon, and a GPU image's CUDA runs on its runtime's driver. For each, a
 * passing case and the exact violation of a bad cluster, job cluster and pool;
 * pooled clusters judged by their pool's node type; and the gpuDrivers setting.
 * policy-gpu-stack.test.ts has values not known yet, the CrossGuard wiring and
 * the committed dev stack.
 */
import { describe, expect, it } from "vitest";
import { configSchemaOf } from "../policy/crossguard";
import { CLUSTER, DEFAULT_CONFIG, GUARDRAILS, INSTANCE_POOL, isMlRuntimeKey, JOB, runtimeOf, standardRuntimeKey } from "../policy/rules";
import { RUNTIME_GPU_FACTS } from "../components/gpu";
import { AUTH, CPU_ENV, CPU_NODE, CPU_POOL_ID, cpuPool as pool, DIGEST, findings, GPU_ENV, GPU_JOB_CLUSTER, GPU_NODE, GPU_POLICIES, gpuCluster, gpuPool, inBoth, nodeCluster as cluster, nodeJob as job, pooledGpuCluster, registry, UNKNOWN_STRING } from "./helpers/policy";

const GPU_SIZES = "an Azure GPU size: Standard_NC*, Standard_ND* or Standard_NV*";

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
