/**
 * The dcs-guardrails rules (policy/rules.ts) on job clusters and pools, past one
 * case a guardrail (policy-rules.test.ts has those): every kind of cluster inside
 * a job named; job clusters skipped by auto-termination; cost tags from a job's
 * tags and from a pool; several clusters with only the bad one reported; jobs and
 * pools not known yet (lists, entries, blocks, values) in either mode; secrets.
 */
import { describe, expect, it } from "vitest";
import { CLUSTER, evaluateStack, type StackResource } from "../policy/rules";
import { AUTH, cluster, DIGEST, image, job, jobCluster, PLATFORM_REF as ref, policies, pool, registry, TAGS, UNKNOWN_STRING, unknownValues, UNPOOLED, urn } from "./helpers/policy";

describe("job clusters and pools (issue 13, item 6)", () => {
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

  it.each(unknownValues("(computed: image-image.repoDigest)"))("a job or a pool not known yet never violates: %s, in either mode", (_what, u) => {
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
