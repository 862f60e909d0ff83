/**
 * The dcs-guardrails rules (policy/rules.ts) and their CrossGuard wiring
 * (policy/crossguard.ts), without starting the pack: every policy with a
 * passing and a violating resource, values not known yet, settings, a
 * deliberately bad stack, and the policies CrossGuard is handed.
 */
import { describe, expect, it } from "vitest";
import type { ResourceValidation, ResourceValidationPolicy, StackValidation, StackValidationPolicy } from "@pulumi/policy";
import { configSchemaOf, crossGuardPolicies, plainProps } from "../policy/crossguard";
import {
  CLUSTER,
  DEFAULT_CONFIG,
  ENGINE_UNKNOWN_SENTINELS,
  evaluateStack,
  GUARDRAILS,
  IMAGE,
  INSTANCE_POOL,
  isUnknown,
  JOB,
  REGISTRY,
  STACK_REFERENCE,
  stackOfUrn,
  WORKSPACE_CONF,
  withDefaults,
  type GuardrailConfig,
  type StackResource,
  type UndefinedMeans,
} from "../policy/rules";
import { policyInternals, UNKNOWN_STRING, unknownCheckingProxy } from "./helpers/policy";


const urn = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::dcs-platform::dcs:index:Component$${type}::${name}`;
const DIGEST = `dcshydroprod.azurecr.io/hydrology/dask@sha256:${"c".repeat(64)}`;
const TAGS = { environment: "prod", team: "hydrology", costCenter: "HYD-4410", managedBy: "dcs-platform" };

function registry(props: Record<string, unknown> = {}, protect: boolean | undefined = true, stack = "prod"): StackResource {
  return {
    type: REGISTRY,
    name: "registry-acr",
    urn: urn(stack, REGISTRY, "registry-acr"),
    props: { registryName: "dcshydroprod", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false, tags: TAGS, ...props },
    opts: { protect },
  };
}
function image(props: Record<string, unknown> = {}): StackResource {
  return {
    type: IMAGE,
    name: "image-image",
    urn: urn("prod", IMAGE, "image-image"),
    props: { imageName: "dcshydroprod.azurecr.io/hydrology/dask:16.4-lts-0123456789ab", build: { context: "infra/image", platform: "linux/amd64" }, ...props },
    opts: {},
  };
}
function cluster(props: Record<string, unknown> = {}): StackResource {
  return {
    type: CLUSTER,
    name: "cluster-dask-cluster",
    urn: urn("prod", CLUSTER, "cluster-dask-cluster"),
    props: {
      dockerImage: { url: DIGEST, basicAuth: { username: "5b2e7d4a", password: "{{secrets/dcs-hydrology/acr-pull-secret}}" } },
      dataSecurityMode: "SINGLE_USER",
      singleUserName: "5b2e7d4a",
      sparkVersion: "16.4.x-scala2.12",
      autoterminationMinutes: 60,
      customTags: TAGS,
      initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
      ...props,
    },
    opts: {},
  };
}
const sound = () => [registry(), image(), cluster(), { type: WORKSPACE_CONF, name: "dcs", props: { customConfig: { enableDcs: "true" } } }];

const AUTH = { username: "5b2e7d4a", password: "{{secrets/dcs-hydrology/acr-pull-secret}}" };
/**
 * A job cluster's `newCluster`, as computeSpec builds it: no autoterminationMinutes (it ends with
 * its run), drawing from a pool, so its VMs carry the pool's tags and it may not repeat their keys.
 */
function jobCluster(props: Record<string, unknown> = {}): Record<string, unknown> {
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
const UNPOOLED = { instancePoolId: undefined, driverInstancePoolId: undefined, nodeTypeId: "Standard_D4ds_v5", driverNodeTypeId: "Standard_D4ds_v5", customTags: TAGS };
/** A job with a task on its own cluster (`smoke`) and a shared job cluster (`main`) a second task runs on. */
function job(props: Record<string, unknown> = {}, smoke: Record<string, unknown> = {}): StackResource {
  return {
    type: JOB,
    name: "job-nightly",
    urn: urn("prod", JOB, "job-nightly"),
    props: {
      name: "hydrology-nightly",
      tags: { workload: "nightly-study" },
      jobClusters: [{ jobClusterKey: "main", newCluster: jobCluster() }],
      tasks: [
        { taskKey: "smoke", newCluster: jobCluster(smoke), sparkPythonTask: { pythonFile: "/Workspace/Shared/dcs/prod/jobs/dask_smoke.py" } },
        { taskKey: "study", jobClusterKey: "main", sparkPythonTask: { pythonFile: "/Workspace/Shared/dcs/prod/jobs/study.py" } },
      ],
      schedule: { quartzCronExpression: "0 0 2 * * ?", timezoneId: "Europe/Amsterdam" },
      ...props,
    },
    opts: {},
  };
}
/** A warm pool with the image and the runtime preloaded, spot VMs. */
function pool(props: Record<string, unknown> = {}): StackResource {
  return {
    type: INSTANCE_POOL,
    name: "pool-d4",
    urn: urn("prod", INSTANCE_POOL, "pool-d4"),
    props: {
      instancePoolName: "hydrology-prod-d4",
      nodeTypeId: "Standard_D4ds_v5",
      minIdleInstances: 1,
      idleInstanceAutoterminationMinutes: 15,
      preloadedDockerImages: [{ url: DIGEST, basicAuth: AUTH }],
      preloadedSparkVersions: ["16.4.x-scala2.12"],
      azureAttributes: { availability: "SPOT_AZURE", spotBidMaxPrice: -1 },
      customTags: TAGS,
      ...props,
    },
    opts: {},
  };
}
const soundWithJobAndPool = () => [...sound(), pool(), job()];
/** A GPU node type, and the variables of a cluster booting a GPU image on CUDA 12.6.3 (policy-gpu.test.ts has the GPU rules' own tests). */
const GPU_NODE = "Standard_NC4as_T4_v3";
const GPU_ENV = { DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" };

const policies = (resources: StackResource[], config: Partial<GuardrailConfig> = {}, undefinedMeans?: UndefinedMeans) =>
  evaluateStack(resources, config, { undefinedMeans }).map((f) => `${f.enforcement}:${f.policy}`);

describe("each policy passes a sound stack and flags its violation", () => {
  it.each(["unknown", "absent"] as const)("a sound stack has no finding at all (undefined means %s)", (mode) => {
    expect(evaluateStack(sound(), {}, { undefinedMeans: mode })).toEqual([]);
  });

  const cases: [policy: string, stack: () => StackResource[], message: RegExp][] = [
    ["acr-admin-user-disabled", () => [registry({ adminUserEnabled: true }), cluster()], /registry registry-acr enables the admin user/],
    ["acr-admin-user-dev-only", () => [registry({ adminUserEnabled: true, tags: { ...TAGS, environment: "dev" } }, false, "dev"), cluster()], /dev registry registry-acr enables the admin user/],
    ["acr-anonymous-pull-disabled", () => [registry({ anonymousPullEnabled: true }), cluster()], /allows anonymous pull/],
    [
      "cluster-image-pinned",
      () => [registry(), cluster({ dockerImage: { url: "dcshydroprod.azurecr.io/hydrology/dask:latest", basicAuth: { username: "u", password: "{{secrets/s/k}}" } } })],
      /runs image dcshydroprod\.azurecr\.io\/hydrology\/dask:latest: latest moves with every push/,
    ],
    [
      "cluster-pull-secret-by-reference",
      () => [registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: "the-client-secret" } } })],
      /carries its registry password in dockerImage\.basicAuth\.password, where other users of the workspace can read it/,
    ],
    [
      "cluster-image-from-stack-registry",
      () => [registry(), cluster({ dockerImage: { url: `elsewhere.azurecr.io/x@sha256:${"d".repeat(64)}`, basicAuth: { username: "u", password: "{{secrets/s/k}}" } } })],
      /pulls its image from elsewhere\.azurecr\.io, not from a registry of this stack \(dcshydroprod\.azurecr\.io\)/,
    ],
    [
      "cluster-image-basic-auth",
      () => [registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "", password: "" } } })],
      /private registry without basic auth \(username and password missing\)/,
    ],
    ["cluster-dedicated-access-mode", () => [registry(), cluster({ dataSecurityMode: "USER_ISOLATION" })], /uses access mode USER_ISOLATION; custom containers need dedicated access mode/],
    ["cluster-runtime-supports-containers", () => [registry(), cluster({ sparkVersion: "16.4.x-cpu-ml-scala2.12" })], /runs 16\.4\.x-cpu-ml-scala2\.12: ML runtimes/],
    ["cluster-auto-termination", () => [registry(), cluster({ autoterminationMinutes: 240 })], /after 240 minutes, above the 120-minute cap/],
    ["registry-protected-in-prod", () => [registry({}, false), cluster()], /protected environment \(tag environment=prod, stack prod\) but is not protected/],
    ["image-platform-linux-amd64", () => [registry(), image({ build: { context: "infra/image", platform: "linux/arm64" } }), cluster()], /builds for linux\/arm64/],
    ["init-scripts-not-on-dbfs", () => [registry(), cluster({ initScripts: [{ dbfs: { destination: "dbfs:/dcs/prod/x.sh" } }] })], /from DBFS \(dbfs:\/dcs\/prod\/x\.sh\).*workspace files.*Unity Catalog volume/],
    ["cluster-cost-tags", () => [registry(), cluster({ customTags: { team: "hydrology" } })], /lacks the cost tags costCenter, environment/],
    [
      "cluster-uses-platform-policy",
      () => [registry(), cluster(), { type: STACK_REFERENCE, name: "platform", props: { name: "org/dcs-platform/platform-prod" } }],
      /reads platform stack org\/dcs-platform\/platform-prod, but carries no policyId/,
    ],
    ["gpu-node-runs-gpu-image", () => [registry(), cluster({ nodeTypeId: GPU_NODE, sparkEnvVars: {} })], /runs on GPU node type Standard_NC4as_T4_v3\b.* but boots a CPU image/],
    ["gpu-image-on-gpu-node", () => [registry(), cluster({ nodeTypeId: "Standard_D4ds_v5", sparkEnvVars: GPU_ENV })], /boots a GPU image \(DCS_CUDA_VERSION 12\.6\.3\) on node type Standard_D4ds_v5\b.*, which has no GPU/],
    ["gpu-runtime-standard", () => [registry(), cluster({ nodeTypeId: GPU_NODE, sparkEnvVars: GPU_ENV, runtimeEngine: "PHOTON" })], /sets runtimeEngine: PHOTON on GPU node type Standard_NC4as_T4_v3/],
    ["gpu-cuda-within-driver", () => [registry(), cluster({ nodeTypeId: GPU_NODE, sparkEnvVars: { DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: "580" } })], /CUDA 13\.0\.1 needs NVIDIA driver 580 or newer/],
  ];

  it("covers every policy of the pack", () => expect(cases.map((c) => c[0]).sort()).toEqual(GUARDRAILS.map((g) => g.name).sort()));

  it.each(cases)("%s", (policy, stack, message) => {
    for (const mode of ["unknown", "absent"] as const) {
      const findings = evaluateStack(stack(), {}, { undefinedMeans: mode });
      expect(findings.map((f) => f.policy)).toEqual([policy]);
      expect(findings[0].enforcement).toBe(GUARDRAILS.find((g) => g.name === policy)?.enforcement);
      expect(findings[0].message).toMatch(message);
      expect(findings[0].resource).toMatch(/^(registry-acr|image-image|cluster-dask-cluster)$/);
    }
  });

  it("every rule ignores resources of other types", () => {
    const conf = { type: WORKSPACE_CONF, name: "dcs", props: { adminUserEnabled: true, dockerImage: { url: "x" }, customTags: {} } };
    for (const g of GUARDRAILS) {
      expect(g.rule(conf.type, conf.props, { name: conf.name, config: DEFAULT_CONFIG, stack: [conf], undefinedMeans: "absent" })).toEqual([]);
    }
  });
});

describe("job clusters and pools (issue 13, item 6)", () => {
  it.each(["unknown", "absent"] as const)("a sound stack with a pool and a job has no finding (undefined means %s)", (mode) => {
    expect(evaluateStack(soundWithJobAndPool(), {}, { undefinedMeans: mode })).toEqual([]);
  });

  const ref = { type: STACK_REFERENCE, name: "platform", props: { name: "org/dcs-platform/platform-prod" } };
  const withPolicy = (c: StackResource) => ({ ...c, props: { ...c.props, policyId: "POL-1" } });
  const foreign = `elsewhere.azurecr.io/x@sha256:${"d".repeat(64)}`;

  // Each a violating job cluster (task smoke): exactly that finding, naming the job and the task.
  const jobCases: [policy: string, stack: () => StackResource[], message: RegExp][] = [
    ["cluster-image-pinned", () => [registry(), job({}, { dockerImage: { url: "dcshydroprod.azurecr.io/hydrology/dask:latest", basicAuth: AUTH } })], /^job job-nightly, task smoke runs image \S+:latest: latest moves/],
    ["cluster-image-from-stack-registry", () => [registry(), job({}, { dockerImage: { url: foreign, basicAuth: AUTH } })], /^job job-nightly, task smoke pulls its image from elsewhere\.azurecr\.io, not from a registry of this stack/],
    ["cluster-image-basic-auth", () => [registry(), job({}, { dockerImage: { url: DIGEST, basicAuth: { username: "", password: "" } } })], /^job job-nightly, task smoke pulls from a private registry without basic auth \(username and password missing\); set dockerImage\.basicAuth/],
    ["cluster-pull-secret-by-reference", () => [registry(), job({}, { dockerImage: { url: DIGEST, basicAuth: { username: "u", password: "the-client-secret" } } })], /^job job-nightly, task smoke carries its registry password in dockerImage\.basicAuth\.password/],
    ["cluster-dedicated-access-mode", () => [registry(), job({}, { dataSecurityMode: "USER_ISOLATION" })], /^job job-nightly, task smoke uses access mode USER_ISOLATION/],
    ["cluster-runtime-supports-containers", () => [registry(), job({}, { sparkVersion: "16.4.x-cpu-ml-scala2.12" })], /^job job-nightly, task smoke runs 16\.4\.x-cpu-ml-scala2\.12: ML runtimes/],
    ["init-scripts-not-on-dbfs", () => [registry(), job({}, { initScripts: [{ dbfs: { destination: "dbfs:/dcs/prod/x.sh" } }] })], /^job job-nightly, task smoke runs init scripts from DBFS \(dbfs:\/dcs\/prod\/x\.sh\)/],
    ["cluster-cost-tags", () => [registry(), job({}, { ...UNPOOLED, customTags: { team: "hydrology" } })], /^job job-nightly, task smoke lacks the cost tags costCenter, environment in customTags or the job's tags/],
    [
      "cluster-uses-platform-policy",
      () => [registry(), withPolicy(cluster()), ref, job({ jobClusters: [{ jobClusterKey: "main", newCluster: jobCluster({ policyId: "POL-1" }) }] })],
      /^job job-nightly, task smoke belongs to a team stack that reads platform stack org\/dcs-platform\/platform-prod, but carries no policyId/,
    ],
    ["gpu-node-runs-gpu-image", () => [registry(), job({}, { ...UNPOOLED, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: {} })], /^job job-nightly, task smoke runs on GPU node type Standard_NC4as_T4_v3 but boots a CPU image/],
    ["gpu-image-on-gpu-node", () => [registry(), job({}, { ...UNPOOLED, sparkEnvVars: GPU_ENV })], /^job job-nightly, task smoke boots a GPU image \(DCS_CUDA_VERSION 12\.6\.3\) on node type Standard_D4ds_v5, which has no GPU/],
    ["gpu-runtime-standard", () => [registry(), job({}, { ...UNPOOLED, nodeTypeId: GPU_NODE, driverNodeTypeId: GPU_NODE, sparkEnvVars: GPU_ENV, sparkVersion: "16.4.x-photon-scala2.12" })], /^job job-nightly, task smoke runs 16\.4\.x-photon-scala2\.12 on GPU node type Standard_NC4as_T4_v3, a Photon runtime/],
    ["gpu-cuda-within-driver", () => [registry(), job({}, { sparkEnvVars: { DCS_CUDA_VERSION: "13.0.1", DCS_CUDA_MIN_DRIVER: "580" } })], /^job job-nightly, task smoke boots a GPU image on CUDA 13\.0\.1 with 16\.4\.x-scala2\.12: CUDA 13\.0\.1 needs NVIDIA driver 580 or newer/],
  ];
  // Each a violating pool: exactly that finding, naming the pool.
  const poolCases: [policy: string, stack: () => StackResource[], message: RegExp][] = [
    ["cluster-image-pinned", () => [registry(), pool({ preloadedDockerImages: [{ url: "dcshydroprod.azurecr.io/hydrology/dask:latest", basicAuth: AUTH }] })], /^pool pool-d4 preloads image \S+:latest: latest moves/],
    ["cluster-image-from-stack-registry", () => [registry(), pool({ preloadedDockerImages: [{ url: foreign, basicAuth: AUTH }] })], /^pool pool-d4 preloads an image from elsewhere\.azurecr\.io, not from a registry of this stack/],
    [
      "cluster-image-basic-auth",
      () => [registry(), pool({ preloadedDockerImages: [{ url: DIGEST, basicAuth: AUTH }, { url: DIGEST, basicAuth: { username: "u", password: "" } }] })],
      /^pool pool-d4 pulls from a private registry without basic auth \(password missing\); set preloadedDockerImages\[1\]\.basicAuth/,
    ],
    ["cluster-pull-secret-by-reference", () => [registry(), pool({ preloadedDockerImages: [{ url: DIGEST, basicAuth: { username: "u", password: "the-client-secret" } }] })], /^pool pool-d4 carries its registry password in preloadedDockerImages\[0\]\.basicAuth\.password/],
    ["cluster-runtime-supports-containers", () => [registry(), pool({ preloadedSparkVersions: ["16.4.x-scala2.12", "15.4.x-gpu-ml-scala2.12"] })], /^pool pool-d4 preloads 15\.4\.x-gpu-ml-scala2\.12: ML runtimes/],
    ["gpu-node-runs-gpu-image", () => [registry(), pool({ nodeTypeId: GPU_NODE })], /^pool pool-d4 preloads an image on GPU node type Standard_NC4as_T4_v3, but not a GPU image \(no dcsCuda custom tag\)/],
    ["gpu-image-on-gpu-node", () => [registry(), pool({ customTags: { ...TAGS, dcsCuda: "12.6.3" } })], /^pool pool-d4 preloads a GPU image \(dcsCuda: 12\.6\.3\) on node type Standard_D4ds_v5, which has no GPU/],
    ["gpu-runtime-standard", () => [registry(), pool({ nodeTypeId: GPU_NODE, customTags: { ...TAGS, dcsCuda: "12.6.3" }, preloadedSparkVersions: ["16.4.x-photon-scala2.12"] })], /^pool pool-d4 preloads 16\.4\.x-photon-scala2\.12 on GPU node type Standard_NC4as_T4_v3, a Photon runtime/],
    ["gpu-cuda-within-driver", () => [registry(), pool({ nodeTypeId: GPU_NODE, customTags: { ...TAGS, dcsCuda: "13.0.1" } })], /^pool pool-d4 preloads a GPU image on CUDA 13\.0\.1 with 16\.4\.x-scala2\.12: CUDA 13\.0\.1 needs NVIDIA driver 580 or newer/],
  ];

  it("cover every policy that judges jobs, and every one that judges pools (appliesTo)", () => {
    expect(jobCases.map((c) => c[0]).sort()).toEqual(GUARDRAILS.filter((g) => g.appliesTo.includes(JOB)).map((g) => g.name).sort());
    expect(poolCases.map((c) => c[0]).sort()).toEqual(GUARDRAILS.filter((g) => g.appliesTo.includes(INSTANCE_POOL)).map((g) => g.name).sort());
    expect(GUARDRAILS.find((g) => g.name === "cluster-auto-termination")?.appliesTo).toEqual([CLUSTER]);
  });

  const exactly = (policy: string, stack: () => StackResource[], message: RegExp, resource: string) => {
    for (const mode of ["unknown", "absent"] as const) {
      const findings = evaluateStack(stack(), {}, { undefinedMeans: mode });
      expect(findings.map((f) => `${f.policy}:${f.resource}`), mode).toEqual([`${policy}:${resource}`]);
      expect(findings[0].message).toMatch(message);
    }
  };
  it.each(jobCases)("a job cluster: %s", (policy, stack, message) => exactly(policy, stack, message, "job-nightly"));
  it.each(poolCases)("a pool: %s", (policy, stack, message) => exactly(policy, stack, message, "pool-d4"));

  it("names every kind of cluster inside a job, one finding each", () => {
    const bad = jobCluster({ dataSecurityMode: "USER_ISOLATION" });
    const j = job({
      newCluster: bad,
      jobClusters: [{ jobClusterKey: "main", newCluster: jobCluster() }, { jobClusterKey: "wide", newCluster: bad }],
      tasks: [
        { taskKey: "smoke", newCluster: bad },
        { newCluster: bad }, // a key not known yet: named by its position
        { taskKey: "each", forEachTask: { inputs: "[1,2]", task: { taskKey: "each_iteration", newCluster: bad } } },
        { taskKey: "study", jobClusterKey: "main" },
        { taskKey: "shared", existingClusterId: "0101-abc" },
      ],
    });
    expect(evaluateStack([registry(), j], {}, { undefinedMeans: "absent" }).map((f) => f.message.split(" uses access mode")[0])).toEqual([
      "job job-nightly (its newCluster)",
      "job job-nightly, job cluster wide",
      "job job-nightly, task smoke",
      "job job-nightly, task #2",
      "job job-nightly, task each, for-each task each_iteration",
    ]);
  });

  it("does not judge a job cluster's auto-termination: it ends with its run", () => {
    expect(policies([registry(), job({}, { autoterminationMinutes: 0 })], {}, "absent")).toEqual([]);
    expect(policies([registry(), job({}, { autoterminationMinutes: undefined, customTags: { ...TAGS, longRunning: "no" } })], {}, "absent")).toEqual([]);
  });

  it("takes a job cluster's cost tags from its customTags or its job's tags", () => {
    expect(policies([registry(), job({ tags: TAGS }, { ...UNPOOLED, customTags: {} })], {}, "absent")).toEqual([]); // the job's tags propagate
    expect(policies([registry(), job({ tags: { team: "hydrology" } }, { ...UNPOOLED, customTags: { costCenter: "HYD-4410", environment: "prod" } })], {}, "absent")).toEqual([]);
    expect(policies([registry(), job({ tags: { ...TAGS, team: " " } }, { ...UNPOOLED, customTags: { ...TAGS, team: "" } })], {}, "absent")).toEqual(["advisory:cluster-cost-tags"]);
    expect(policies([registry(), job({ tags: UNKNOWN_STRING }, { ...UNPOOLED, customTags: {} })], {}, "absent")).toEqual([]);
    expect(policies([registry(), job({ tags: undefined }, { ...UNPOOLED, customTags: {} })], {}, "absent")).toEqual(["advisory:cluster-cost-tags"]);
    expect(policies([registry(), job({ tags: undefined }, { ...UNPOOLED, customTags: {} })], {}, "unknown")).toEqual([]); // a recorded preview: the job's tags may not be known yet
  });

  it("judges a pooled cluster on its own cost tags, and never a pool (its VMs carry only a dcsPool tag)", () => {
    for (const mode of ["unknown", "absent"] as const) {
      expect(policies([registry(), cluster({ instancePoolId: "0101-pool-d4" }), pool({ customTags: { dcsPool: "d4" } })], {}, mode)).toEqual([]);
      expect(policies([registry(), cluster({ instancePoolId: "0101-pool-d4", customTags: {} })], {}, mode)).toEqual(["advisory:cluster-cost-tags"]);
    }
  });

  it("judges a pool's runtimes only when it preloads an image", () => {
    expect(policies([registry(), pool({ preloadedDockerImages: [], preloadedSparkVersions: ["16.4.x-cpu-ml-scala2.12"] })], {}, "absent")).toEqual([]);
    expect(policies([registry(), pool({ preloadedDockerImages: undefined, preloadedSparkVersions: ["16.4.x-cpu-ml-scala2.12"] })], {}, "absent")).toEqual([]);
    expect(policies([registry(), pool({ preloadedDockerImages: UNKNOWN_STRING, preloadedSparkVersions: ["16.4.x-cpu-ml-scala2.12"] })], {}, "absent")).toEqual([]);
    expect(policies([registry(), pool({ preloadedSparkVersions: ["16.4.x-scala2.12", "10.4.x-genomics-scala2.12"] })])).toEqual(["mandatory:cluster-runtime-supports-containers"]);
  });

  it("accepts a pool's preloaded image by the content tag of an image the stack builds", () => {
    const built = "dcshydroprod.azurecr.io/hydrology/dask:16.4-lts-0123456789ab";
    expect(policies([registry(), image(), pool({ preloadedDockerImages: [{ url: built, basicAuth: AUTH }] })])).toEqual([]);
    expect(policies([registry(), image(), pool({ preloadedDockerImages: [{ url: built.replace("0123", "9999"), basicAuth: AUTH }] })])).toEqual(["mandatory:cluster-image-pinned"]);
  });

  it("judges every cluster of the map, naming the one that violates", () => {
    const second = { ...cluster({ sparkVersion: "16.4.x-cpu-ml-scala2.12" }), name: "cluster-analysis", urn: urn("prod", CLUSTER, "cluster-analysis") };
    const third = { ...cluster(), name: "cluster-batch", urn: urn("prod", CLUSTER, "cluster-batch") };
    const findings = evaluateStack([registry(), cluster(), second, third, pool(), job()], {}, { undefinedMeans: "absent" });
    expect(findings.map((f) => `${f.policy}:${f.resource}`)).toEqual(["cluster-runtime-supports-containers:cluster-analysis"]);
    expect(findings[0].message).toMatch(/^cluster cluster-analysis runs 16\.4\.x-cpu-ml-scala2\.12/);
  });

  // Each value below would violate a policy if it were known to be wrong.
  const unknownSpec = (u: unknown) =>
    jobCluster({ dockerImage: { url: u, basicAuth: { username: u, password: u } }, dataSecurityMode: u, sparkVersion: u, customTags: { ...TAGS, team: u }, initScripts: u, policyId: u });
  const unknownJob = (u: unknown) =>
    job({ tags: { team: u }, jobClusters: [{ jobClusterKey: "main", newCluster: { ...unknownSpec(u), ...UNPOOLED, customTags: { ...TAGS, team: u } } }], tasks: [{ taskKey: "smoke", newCluster: unknownSpec(u) }] });
  const unknownPool = (u: unknown) => pool({ preloadedDockerImages: [{ url: u, basicAuth: { username: u, password: u } }], preloadedSparkVersions: [u], customTags: { ...TAGS, team: u } });

  it.each([
    ["an engine sentinel", UNKNOWN_STRING],
    ["a renderer's placeholder", "(computed: image-image.repoDigest)"],
    ["the SDK's unknown", { __pulumiUnknown: true }],
  ])("a job or a pool not known yet never violates: %s, in either mode", (_what, u) => {
    for (const mode of ["unknown", "absent"] as const) {
      const at = (resources: StackResource[]) => evaluateStack([registry(), ref, ...resources], {}, { undefinedMeans: mode });
      expect(at([unknownJob(u), unknownPool(u)])).toEqual([]);
      // Whole lists, entries and blocks not known yet.
      expect(at([job({ tasks: u, jobClusters: u, newCluster: u }), pool({ preloadedDockerImages: u, preloadedSparkVersions: u, customTags: u })])).toEqual([]);
      expect(at([job({ tasks: [u, { taskKey: "smoke", newCluster: u }, { taskKey: "each", forEachTask: u }], jobClusters: [u, { jobClusterKey: "main", newCluster: u }] }), pool({ preloadedDockerImages: [u] })])).toEqual([]);
    }
  });

  it("reads an undefined in a recorded job or pool as not known yet", () => {
    const u = undefined;
    // Not with a platform stack: a team stack's program always sets policyId, so it is read as absent there.
    expect(evaluateStack([registry(), unknownJob(u), unknownPool(u)])).toEqual([]);
    expect(evaluateStack([registry(), ref, { ...job(), props: {} }, { ...pool(), props: {} }])).toEqual([]);
  });

  it("judges secrets in Pulumi's wire format inside jobs and pools by their value", () => {
    const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
    expect(policies([registry(), job({ tasks: secret([{ taskKey: "smoke", newCluster: jobCluster() }]) }), pool({ preloadedDockerImages: [secret({ url: DIGEST, basicAuth: AUTH })] })])).toEqual([]);
    expect(policies([registry(), pool({ preloadedDockerImages: [{ url: DIGEST, basicAuth: { username: "u", password: secret("raw") } }] })])).toEqual(["mandatory:cluster-pull-secret-by-reference"]);
    expect(policies([registry(), job({ tasks: [{ taskKey: "smoke", newCluster: secret(jobCluster({ sparkVersion: "16.4.x-cpu-ml-scala2.12" })) }] })])).toEqual(["mandatory:cluster-runtime-supports-containers"]);
  });
});

describe("edges of the rules", () => {
  it("accepts both names of dedicated mode and refuses the shared, legacy and automatic ones", () => {
    expect(policies([registry(), cluster({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED" })])).toEqual([]);
    for (const mode of ["USER_ISOLATION", "DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_AUTO", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH", "LEGACY_SINGLE_USER", "NONE", "NO_ISOLATION"]) {
      expect(policies([registry(), cluster({ dataSecurityMode: mode })])).toEqual(["mandatory:cluster-dedicated-access-mode"]);
    }
  });

  it("refuses ML (CPU and GPU) and Genomics runtimes", () => {
    for (const v of ["15.4.x-gpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12", "7.3.x-hls-scala2.12", "10.4.x-genomics-scala2.12"]) {
      expect(policies([registry(), cluster({ sparkVersion: v })])).toEqual(["mandatory:cluster-runtime-supports-containers"]);
    }
  });

  it("leaves clusters without a custom container to the general rules", () => {
    const plain = cluster({ dockerImage: undefined, dataSecurityMode: "USER_ISOLATION", sparkVersion: "16.4.x-cpu-ml-scala2.12", autoterminationMinutes: 0 });
    expect(policies([plain], {}, "absent")).toEqual(["mandatory:cluster-auto-termination"]);
  });

  it("caps auto-termination: never off, a longRunning cluster may exceed the cap, the cap is configurable", () => {
    expect(evaluateStack([registry(), cluster({ autoterminationMinutes: 0 })])[0].message).toMatch(/never auto-terminates \(autoterminationMinutes: 0\)/);
    expect(policies([registry(), cluster({ autoterminationMinutes: 120 })])).toEqual([]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 480, customTags: { ...TAGS, longRunning: "true" } })])).toEqual([]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 0, customTags: { ...TAGS, longRunning: "true" } })])).toEqual(["mandatory:cluster-auto-termination"]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 480, customTags: { ...TAGS, longRunning: "yes" } })])).toEqual(["mandatory:cluster-auto-termination"]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 90 })], { maxAutoterminationMinutes: 60 })).toEqual(["mandatory:cluster-auto-termination"]);
  });

  it("reads an unset auto-termination as the provider's default of 60 minutes", () => {
    expect(policies([registry(), cluster({ autoterminationMinutes: undefined })], {}, "absent")).toEqual([]);
    expect(evaluateStack([registry(), cluster({ autoterminationMinutes: undefined })], { maxAutoterminationMinutes: 30 }, { undefinedMeans: "absent" })[0].message).toMatch(
      /after 60 minutes \(the provider's default\), above the 30-minute cap/,
    );
  });

  it("requires basic auth only from a private registry, and both of its fields", () => {
    const noAuth = cluster({ dockerImage: { url: DIGEST } });
    expect(policies([registry({ anonymousPullEnabled: true }), noAuth], {}, "absent")).toEqual(["mandatory:acr-anonymous-pull-disabled"]);
    expect(policies([registry(), noAuth], {}, "absent")).toEqual(["mandatory:cluster-image-basic-auth"]);
    // anonymousPullEnabled not set: Azure's default (off), so the registry is private.
    expect(policies([registry({ anonymousPullEnabled: undefined }), noAuth], {}, "absent")).toEqual(["mandatory:cluster-image-basic-auth"]);
    expect(policies([registry({ anonymousPullEnabled: undefined }), noAuth])).toEqual([]); // a recorded preview: basicAuth may not be known yet
    expect(evaluateStack([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: "" } } })])[0].message).toMatch(/\(password missing\)/);
    expect(evaluateStack([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { password: "{{secrets/s/k}}" } } })], {}, { undefinedMeans: "absent" })[0].message).toMatch(/\(username missing\)/);
  });

  it("matches the image host against the registry's name or login server, case-insensitively", () => {
    const byLogin = registry({ registryName: undefined, loginServer: "DcsHydroProd.azurecr.io" });
    expect(policies([byLogin, cluster()], {}, "absent")).toEqual([]);
    const byOutputName = registry({ registryName: undefined, name: "dcshydroprod" }); // a stack policy after an update sees outputs
    expect(policies([byOutputName, cluster()], {}, "absent")).toEqual([]);
    const notKnown = registry({ registryName: undefined, loginServer: UNKNOWN_STRING });
    expect(policies([notKnown, cluster()], {}, "absent")).toEqual([]);
    expect(policies([cluster()], {}, "absent")).toEqual(["mandatory:cluster-image-from-stack-registry"]);
    expect(evaluateStack([cluster()])[0].message).toMatch(/\(none declared\)/);
  });

  it("exempts only a dev registry from the admin-user ban, and only with a known environment tag", () => {
    expect(policies([registry({ adminUserEnabled: true, tags: { ...TAGS, environment: "test" } }), cluster()])).toEqual(["mandatory:acr-admin-user-disabled"]);
    expect(policies([registry({ adminUserEnabled: true, tags: { team: "hydrology" } }), cluster()])).toEqual(["mandatory:acr-admin-user-disabled"]);
  });

  it("protects registries by environment tag or stack name, for the configured environments", () => {
    const staging = (stack: string) => registry({ tags: { ...TAGS, environment: "test" } }, false, stack);
    expect(policies([staging("test"), cluster()])).toEqual([]);
    expect(policies([staging("test"), cluster()], { protectedEnvironments: ["prod", "test"] })).toEqual(["mandatory:registry-protected-in-prod"]);
    expect(evaluateStack([staging("prod"), cluster()])[0].message).toMatch(/\(stack prod\)/);
    expect(stackOfUrn("urn:pulumi:prod-westeurope::dcs-platform::azure-native:containerregistry:Registry::acr")).toBe("prod-westeurope");
    expect(stackOfUrn(undefined)).toBeUndefined();
  });

  it("accepts the protect option nested or flat, and treats options not recorded as not known", () => {
    const flat: StackResource = { ...registry(), opts: undefined, protect: true };
    expect(policies([flat, cluster()])).toEqual([]);
    expect(policies([{ ...flat, protect: false }, cluster()])).toEqual(["mandatory:registry-protected-in-prod"]);
    expect(policies([{ ...registry(), opts: undefined }, cluster()])).toEqual([]);
    expect(policies([{ ...registry(), opts: undefined }, cluster()], {}, "absent")).toEqual(["mandatory:registry-protected-in-prod"]);
  });

  it("takes the cost tags from the config, and an empty value counts as missing", () => {
    expect(policies([registry(), cluster()], { costTags: ["team", "project"] })).toEqual(["advisory:cluster-cost-tags"]);
    expect(evaluateStack([registry(), cluster({ customTags: { ...TAGS, team: " " } })])[0].message).toMatch(/lacks the cost tags team in/);
  });

  it("judges secrets in Pulumi's wire format by their value", () => {
    const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
    expect(policies([registry(), cluster({ dockerImage: { url: secret(DIGEST), basicAuth: { username: "u", password: secret("{{secrets/s/k}}") } }, customTags: { ...TAGS, team: secret("t") } })])).toEqual([]);
    // A secret value is still a value: a raw client secret in the spec is refused, wrapped or not.
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret("raw") } } })])).toEqual(["mandatory:cluster-pull-secret-by-reference"]);
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret("") } } })])).toEqual(["mandatory:cluster-image-basic-auth"]);
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret(UNKNOWN_STRING) } } })], {}, "absent")).toEqual([]);
  });

  it("accepts the content tag of an image the stack builds, and no other tag", () => {
    const built = "dcshydroprod.azurecr.io/hydrology/dask:16.4-lts-0123456789ab";
    const auth = { username: "u", password: "{{secrets/s/k}}" };
    expect(policies([registry(), image(), cluster({ dockerImage: { url: built, basicAuth: auth } })])).toEqual([]);
    expect(policies([registry(), image(), cluster({ dockerImage: { url: built.replace("0123", "9999"), basicAuth: auth } })])).toEqual(["mandatory:cluster-image-pinned"]);
    // While the image's name is not known yet, a tag cannot be ruled out.
    expect(policies([registry(), image({ imageName: "(computed: x)" }), cluster({ dockerImage: { url: built.replace("0123", "9999"), basicAuth: auth } })])).toEqual([]);
    expect(policies([registry(), cluster({ dockerImage: { url: "dcshydroprod.azurecr.io/hydrology/dask", basicAuth: auth } })])).toEqual(["mandatory:cluster-image-pinned"]);
  });

  it("asks for a policy id only in a team stack that reads a platform stack", () => {
    const ref = { type: STACK_REFERENCE, name: "platform", props: { name: "p" } };
    expect(policies([registry(), cluster({ policyId: "POL-1" }), ref])).toEqual([]);
    expect(policies([registry(), cluster(), ref])).toEqual(["mandatory:cluster-uses-platform-policy"]);
    expect(policies([registry(), cluster()])).toEqual([]);
  });

  it("fills in defaults for settings not given", () => {
    expect(withDefaults()).toEqual(DEFAULT_CONFIG);
    expect(withDefaults({ costTags: [] })).toEqual({ ...DEFAULT_CONFIG, costTags: [] });
  });
});

describe("values not known yet never violate", () => {
  it("recognises the engine's sentinels exactly as @pulumi/policy does", () => {
    const theirs = Object.entries(policyInternals)
      .filter(([k, v]) => /^unknown[A-Z]\w*Value$/.test(k) && typeof v === "string")
      .map(([, v]) => v as string);
    expect([...ENGINE_UNKNOWN_SENTINELS].sort()).toEqual([...new Set(theirs)].sort());
    expect(theirs.every((s) => isUnknown(s, "absent"))).toBe(true);
    expect(isUnknown("(computed: image-image.repoDigest)", "absent")).toBe(true);
    expect(isUnknown({ __pulumiUnknown: true }, "absent")).toBe(true);
    expect(isUnknown(undefined)).toBe(true);
    expect(isUnknown(undefined, "absent")).toBe(false);
    expect(isUnknown("", "absent")).toBe(false);
  });

  // Each value below would violate a policy if it were known to be wrong.
  const unknownCluster = (u: unknown) =>
    cluster({
      dockerImage: { url: u, basicAuth: { username: u, password: u } },
      dataSecurityMode: u,
      sparkVersion: u,
      autoterminationMinutes: u,
      customTags: { ...TAGS, team: u, longRunning: u },
      initScripts: u,
    });
  const unknownRegistry = (u: unknown) => registry({ registryName: u, adminUserEnabled: u, anonymousPullEnabled: u, tags: { ...TAGS, environment: u } }, false, "dev");
  const unknownImage = (u: unknown) => image({ build: { context: "infra/image", platform: u } });

  it("undefined during a recorded preview (the default)", () => {
    expect(evaluateStack([unknownRegistry(undefined), unknownImage(undefined), unknownCluster(undefined)])).toEqual([]);
    expect(evaluateStack([{ ...registry(), props: {}, opts: undefined }, { ...cluster(), props: {} }, { ...image(), props: {} }])).toEqual([]);
  });

  it.each([
    ["an engine sentinel", UNKNOWN_STRING],
    ["a renderer's placeholder", "(computed: image-image.repoDigest)"],
    ["the SDK's unknown", { __pulumiUnknown: true }],
  ])("%s, in either mode", (_what, u) => {
    for (const mode of ["unknown", "absent"] as const) {
      expect(evaluateStack([unknownRegistry(u), unknownImage(u), unknownCluster(u)], {}, { undefinedMeans: mode })).toEqual([]);
      expect(evaluateStack([registry({ tags: u }), image({ build: u }), cluster({ dockerImage: u, customTags: u })], {}, { undefinedMeans: mode })).toEqual([]);
    }
  });

  it("while a missing key of a known tag map, or a property not set where unknowns are marked, still violates", () => {
    expect(policies([registry(), cluster({ autoterminationMinutes: 240, customTags: { team: "t" } })])).toEqual(["mandatory:cluster-auto-termination", "advisory:cluster-cost-tags"]);
    const unset = cluster({ dataSecurityMode: undefined, customTags: undefined });
    expect(policies([registry(), image({ build: { context: "." } }), unset], {}, "absent")).toEqual([
      "mandatory:cluster-dedicated-access-mode",
      "mandatory:image-platform-linux-amd64",
      "advisory:cluster-cost-tags",
    ]);
    expect(policies([registry(), image({ build: { context: "." } }), unset], {}, "unknown")).toEqual([]);
  });
});

describe("a deliberately bad stack", () => {
  const bad = (): StackResource[] => [
    registry({ adminUserEnabled: true, anonymousPullEnabled: true, tags: { environment: "prod" } }, false),
    image({ build: { context: "infra/image" } }),
    cluster({
      dockerImage: { url: "docker.io/someone/dask:latest" },
      dataSecurityMode: "USER_ISOLATION",
      sparkVersion: "15.4.x-gpu-ml-scala2.12",
      autoterminationMinutes: 0,
      customTags: { environment: "prod" },
      initScripts: [{ dbfs: { destination: "dbfs:/init.sh" } }, { workspace: { destination: "/Shared/ok.sh" } }],
    }),
  ];

  it("yields exactly the expected violations, where unknowns are marked (CrossGuard)", () => {
    expect(evaluateStack(bad(), {}, { undefinedMeans: "absent" }).map((f) => `${f.enforcement}:${f.policy}:${f.resource}`)).toEqual([
      "mandatory:acr-admin-user-disabled:registry-acr",
      "mandatory:acr-anonymous-pull-disabled:registry-acr",
      "mandatory:cluster-image-pinned:cluster-dask-cluster",
      "mandatory:cluster-image-from-stack-registry:cluster-dask-cluster",
      "mandatory:cluster-dedicated-access-mode:cluster-dask-cluster",
      "mandatory:cluster-runtime-supports-containers:cluster-dask-cluster",
      "mandatory:cluster-auto-termination:cluster-dask-cluster",
      "mandatory:registry-protected-in-prod:registry-acr",
      "mandatory:image-platform-linux-amd64:image-image",
      "advisory:init-scripts-not-on-dbfs:cluster-dask-cluster",
      "advisory:cluster-cost-tags:cluster-dask-cluster",
    ]);
  });

  it("yields the same in a recorded preview, less what an undefined property cannot prove", () => {
    expect(policies(bad()).sort()).toEqual(
      [
        "mandatory:acr-admin-user-disabled",
        "mandatory:acr-anonymous-pull-disabled",
        "mandatory:cluster-image-pinned",
        "mandatory:cluster-image-from-stack-registry",
        "mandatory:cluster-dedicated-access-mode",
        "mandatory:cluster-runtime-supports-containers",
        "mandatory:cluster-auto-termination",
        "mandatory:registry-protected-in-prod",
        "advisory:init-scripts-not-on-dbfs",
        "advisory:cluster-cost-tags",
      ].sort(),
    );
  });

  it("flags basic auth once the registry is private and the image comes from it", () => {
    const stack = bad();
    stack[0] = registry({ adminUserEnabled: false, anonymousPullEnabled: false }, true);
    stack[2].props.dockerImage = { url: DIGEST };
    expect(policies(stack, {}, "absent")).toContain("mandatory:cluster-image-basic-auth");
  });
});

describe("the CrossGuard policies (policy/crossguard.ts)", () => {
  const all = crossGuardPolicies();
  const byName = (name: string) => all.find((p) => p.name === name) as ResourceValidationPolicy & StackValidationPolicy;

  it("are the guardrails, in order, with their levels, remediation and settings", () => {
    expect(all.map((p) => [p.name, p.enforcementLevel])).toEqual(GUARDRAILS.map((g) => [g.name, g.enforcement]));
    for (const g of GUARDRAILS) {
      const p = byName(g.name);
      expect(p.description).toBe(g.description);
      expect(p.remediationSteps).toBe(g.remediation);
      expect(typeof (g.scope === "stack" ? p.validateStack : p.validateResource)).toBe("function");
      expect(Object.keys(p.configSchema?.properties ?? {})).toEqual(g.configKeys);
    }
    expect(configSchemaOf(GUARDRAILS.find((g) => g.name === "cluster-auto-termination")!)?.properties.maxAutoterminationMinutes).toMatchObject({ type: "integer", default: 120 });
  });

  function resourceArgs(r: StackResource, config: Record<string, unknown> = {}) {
    return { type: r.type, name: r.name, urn: r.urn ?? "", props: unknownCheckingProxy(r.props), opts: { protect: r.opts?.protect ?? false }, getConfig: () => config };
  }
  const run = (policy: string, r: StackResource, config: Record<string, unknown> = {}) => {
    const reports: string[] = [];
    // Only the fields the wiring reads are given; the cast stands in for the rest of the args.
    const validate = byName(policy).validateResource as ResourceValidation;
    void validate(resourceArgs(r, config) as never, (m) => reports.push(m));
    return reports;
  };

  it("validate a resource behind @pulumi/policy's unknown-checking proxy, with the policy's config", () => {
    expect(run("cluster-auto-termination", cluster({ autoterminationMinutes: 90 }))).toEqual([]);
    expect(run("cluster-auto-termination", cluster({ autoterminationMinutes: 90 }), { maxAutoterminationMinutes: 60 })).toHaveLength(1);
    expect(run("registry-protected-in-prod", registry({}, false))).toHaveLength(1);
    expect(run("registry-protected-in-prod", registry({}, true))).toEqual([]);
  });

  it("read past unknowns instead of throwing, and an unset property is absent", () => {
    const u = UNKNOWN_STRING;
    const unknown = cluster({ dockerImage: { url: u, basicAuth: { username: u, password: u } }, dataSecurityMode: u, sparkVersion: u, autoterminationMinutes: u, customTags: u });
    for (const g of GUARDRAILS.filter((x) => x.scope === "resource")) expect(run(g.name, unknown)).toEqual([]);
    expect(() => (unknownCheckingProxy(unknown.props) as Record<string, unknown>).dataSecurityMode).toThrow(/can't be known during preview/);
    expect(plainProps(unknownCheckingProxy(unknown.props))).toEqual(unknown.props);
    expect(run("cluster-dedicated-access-mode", cluster({ dataSecurityMode: undefined }))).toHaveLength(1);
  });

  it("validate jobs and pools behind the unknown-checking proxy", () => {
    expect(GUARDRAILS.filter((g) => g.scope === "resource").flatMap((g) => [...run(g.name, job()), ...run(g.name, pool())])).toEqual([]);
    expect(run("cluster-dedicated-access-mode", job({}, { dataSecurityMode: undefined }))).toEqual([expect.stringMatching(/^job job-nightly, task smoke sets no dataSecurityMode/)]);
    expect(run("cluster-pull-secret-by-reference", pool({ preloadedDockerImages: [{ url: DIGEST, basicAuth: { username: "u", password: "raw" } }] }))).toHaveLength(1);
    const u = UNKNOWN_STRING;
    const unknown = job({ tasks: [{ taskKey: "smoke", newCluster: { dockerImage: { url: u, basicAuth: { username: u, password: u } }, dataSecurityMode: u, sparkVersion: u, customTags: u, initScripts: u } }] });
    for (const g of GUARDRAILS.filter((x) => x.scope === "resource")) expect(run(g.name, unknown)).toEqual([]);
  });

  it("validate the stack, reporting each violation against its resource's URN", () => {
    const reports: [string, string | undefined][] = [];
    const stack = [registry({ anonymousPullEnabled: UNKNOWN_STRING }), cluster({ dockerImage: { url: `elsewhere.io/x@sha256:${"e".repeat(64)}` } }), cluster({ dockerImage: { url: UNKNOWN_STRING } })];
    stack[2].name = "other-cluster";
    stack[2].urn = urn("prod", CLUSTER, "other-cluster");
    const args = { resources: stack.map((r) => resourceArgs(r)), getConfig: () => ({}) };
    for (const name of ["cluster-image-from-stack-registry", "cluster-image-basic-auth"]) {
      const validate: StackValidation = byName(name).validateStack;
      void validate(args as never, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([[expect.stringMatching(/pulls its image from elsewhere\.io/), stack[1].urn]]);
  });

  it("validate a stack's jobs and pools, reporting against the job's and the pool's URN", () => {
    const reports: [string, string | undefined][] = [];
    const foreign = `elsewhere.io/x@sha256:${"e".repeat(64)}`;
    const stack = [registry(), job({}, { dockerImage: { url: foreign, basicAuth: AUTH } }), pool({ preloadedDockerImages: [{ url: foreign, basicAuth: AUTH }] })];
    const args = { resources: stack.map((r) => resourceArgs(r)), getConfig: () => ({}) };
    for (const name of ["cluster-image-pinned", "cluster-image-from-stack-registry", "cluster-image-basic-auth"]) {
      const validate: StackValidation = byName(name).validateStack;
      void validate(args as never, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([
      [expect.stringMatching(/^job job-nightly, task smoke pulls its image from elsewhere\.io/), stack[1].urn],
      [expect.stringMatching(/^pool pool-d4 preloads an image from elsewhere\.io/), stack[2].urn],
    ]);
  });
});
