/**
 * A stack with two images and GPU compute, rendered through the real entry:
 * the committed dev stack plus a GPU job, a GPU cluster whose node type is
 * looked up, and a GPU image pulled with an identity of its own.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ACR_PULL_ROLE_ID } from "../components/containerRegistry";
import type { Rendering } from "../stacks/render/engine";
import { clusterOf, FAKE_SECRETS, imageOf, input, ofType, renderForTest, stackConfigOf } from "./helpers/record";
import { expectSoundGraph } from "./helpers/stack-graph";

const OWN_CLIENT = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const OWN_OBJECT = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

describe("a stack with a GPU image of its own identity, a looked-up GPU cluster and a GPU job", () => {
  let r: Rendering;
  beforeAll(async () => {
    const dev = stackConfigOf("dev");
    const images = structuredClone(dev["dcs:images"]) as Record<string, Record<string, unknown>>;
    images.gpu.pullIdentity = { clientId: OWN_CLIENT, objectId: OWN_OBJECT };
    const clusters = structuredClone(dev["dcs:clusters"]) as Record<string, Record<string, unknown>>;
    // A second GPU cluster, two nodes, its node type looked up by GPU count.
    clusters.train = { image: "gpu", sparkVersion: "16.4.x-scala2.12", numWorkers: 1, minGpus: 1, autoterminationMinutes: 15, singleUserName: "hydro-dev@contoso.com" };
    const jobs = structuredClone(dev["dcs:jobs"]) as Record<string, Record<string, unknown>>;
    jobs.gpu = { file: "dask_smoke.py", image: "gpu", runAs: "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d", numWorkers: 1, pool: { workers: "gpu" } };
    r = await renderForTest("dev", { "dcs:images": images, "dcs:clusters": clusters, "dcs:jobs": jobs });
  });

  it("renders a sound graph", () => expectSoundGraph(r));

  it("grants the image's own identity AcrPull and keeps its secret, a Pulumi secret, under the image's key", () => {
    const grants = ofType(r, "azure-native:authorization:RoleAssignment").filter((g) => String(g.inputs.roleDefinitionId).endsWith(ACR_PULL_ROLE_ID));
    expect(grants.map((g) => g.inputs.principalId).sort()).toEqual([OWN_OBJECT, "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"].sort());
    const secret = ofType(r, "databricks:index/secret:Secret").find((s) => s.inputs.key === "acr-pull-gpu")!;
    expect(secret.secretInputs).toEqual(["stringValue"]);
    expect(JSON.stringify(r)).not.toContain(FAKE_SECRETS["dcs:imagePullSecrets"]);
    for (const name of ["gpu", "train"]) {
      const cluster = clusterOf(r, name);
      expect(input(cluster, "dockerImage.basicAuth")).toEqual({ username: OWN_CLIENT, password: "{{secrets/dcs-hydrology-dev/acr-pull-gpu}}" });
      // It waits for the own identity's grant to apply, not only the stack's.
      const ownWait = ofType(r, "time:index/sleep:Sleep").find((w) => w.name === "registry-acrpull-gpu-propagation")!;
      expect(cluster.dependencies).toContain(ownWait.urn);
    }
    expect(input(clusterOf(r, "dask"), "dockerImage.basicAuth.username")).toBe("3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01");
  });

  it("looks the GPU cluster's node type up by GPU count, and runs it on the answer", () => {
    const lookups = r.invokes.filter((i) => i.token === "databricks:index/getNodeType:getNodeType");
    expect(lookups.map((l) => l.args.minGpus)).toContain(1);
    expect(clusterOf(r, "train").inputs).toMatchObject({ nodeTypeId: "Standard_NC4as_T4_v3", driverNodeTypeId: "Standard_NC4as_T4_v3", numWorkers: 1 });
    expect(input(clusterOf(r, "train"), "sparkEnvVars.DCS_CUDA_VERSION")).toBe("12.6.3");
    expect(input(clusterOf(r, "train"), "sparkEnvVars.DCS_SINGLE_NODE")).toBeUndefined();
  });

  it("runs the GPU job on a fresh job cluster from the GPU pool, on the GPU image with its CUDA", () => {
    const job = ofType(r, "databricks:index/job:Job").find((j) => j.inputs.name === "hydrology-gpu-dev")!;
    const task = (job.inputs.tasks as { newCluster: Record<string, unknown> }[])[0];
    const images = r.outputs.images as Record<string, { ref: string }>;
    expect(task.newCluster).toMatchObject({
      instancePoolId: "pool-gpu-pool-id",
      sparkVersion: "16.4.x-scala2.12",
      dockerImage: { url: images.gpu.ref, basicAuth: { username: OWN_CLIENT, password: "{{secrets/dcs-hydrology-dev/acr-pull-gpu}}" } },
      sparkEnvVars: expect.objectContaining({ DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" }),
    });
    // The CPU smoke job is unchanged.
    const smoke = ofType(r, "databricks:index/job:Job").find((j) => j.inputs.name === "hydrology-smoke-dev")!;
    const smokeCluster = (smoke.inputs.tasks as { newCluster: Record<string, unknown> }[])[0].newCluster;
    expect((smokeCluster.dockerImage as { url: string }).url).toBe(images.default.ref);
    expect((smokeCluster.sparkEnvVars as Record<string, string>).DCS_CUDA_VERSION).toBeUndefined();
  });

  it("builds a GPU image for a runtime the program has no figures for with the Python the stack names", async () => {
    const dev = stackConfigOf("dev");
    const images = structuredClone(dev["dcs:images"]) as Record<string, Record<string, unknown>>;
    images.gpu.runtime = "17.3-LTS";
    images.gpu.gpu = { cuda: "12.6.3", driver: "570.86.15", python: "3.12" };
    const clusters = structuredClone(dev["dcs:clusters"]) as Record<string, Record<string, unknown>>;
    clusters.gpu.sparkVersion = "17.3.x-scala2.12";
    const later = await renderForTest("dev", { "dcs:images": images, "dcs:clusters": clusters });
    expect(input(imageOf(later, "gpu"), "build.args")).toMatchObject({ RUNTIME_TAG: "17.3-LTS", PYTHON_VERSION: "3.12", CUDA_VERSION: "12.6.3" });
  });

  it("passes every guardrail", () => {
    expect(r.findings).toEqual([]);
  });
});
