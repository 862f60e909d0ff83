/**
 * The GPU guardrails of policy/rules/gpu.ts on a whole stack: values not known
 * yet never violate them, node types resolved through pools by known ids only;
 * under CrossGuard, the unknown-checking proxy and the gpuDrivers setting; and
 * the committed dev stack, whose GPU cluster draws from a GPU pool, with that
 * pool's id known. policy-gpu.test.ts has each guardrail's own cases.
 */
import { describe, expect, it } from "vitest";
import type { ResourceValidation, StackValidation } from "@pulumi/policy";
import { CLUSTER, DEFAULT_CONFIG, evaluateStack, GUARDRAILS, specNodeTypes, type StackResource } from "../policy/rules";
import type { Rendering } from "../stacks/render/engine";
import { renderForTest } from "./helpers/record";
import { AUTH, CPU_ENV, CPU_NODE, CPU_POOL_ID, cpuPool as pool, crossGuardPolicy as byName, DIGEST, findings, GPU_ENV, GPU_JOB_CLUSTER, GPU_NODE, GPU_POLICIES, GPU_POOL_ID, gpuCluster, gpuPool, nodeCluster as cluster, nodeJob as job, pooledGpuCluster, prodUrn as urn, registry, resourceArgs as args, UNKNOWN_STRING, unknownValues } from "./helpers/policy";

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

  it.each(unknownValues("(computed: pool-gpu-pool.id)"))("%s, in either mode", (_what, u) => {
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
