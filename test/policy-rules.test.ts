/**
 * The dcs-guardrails rules (policy/rules.ts), one case a guardrail: every policy
 * with a passing and a violating resource, and for every policy that judges jobs
 * or pools (by its `appliesTo`) a violating job cluster and a violating pool. The
 * tables stand beside the tests that check every guardrail has its case.
 */
import { describe, expect, it } from "vitest";
import { CLUSTER, DEFAULT_CONFIG, evaluateStack, GUARDRAILS, INSTANCE_POOL, JOB, STACK_REFERENCE, WORKSPACE_CONF, type StackResource } from "../policy/rules";
import { AUTH, cluster, CUDA_ENV as GPU_ENV, DIGEST, GPU_NODE, image, job, jobCluster, PLATFORM_REF as ref, pool, registry, sound, soundWithJobAndPool, TAGS, UNPOOLED } from "./helpers/policy";

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
});
