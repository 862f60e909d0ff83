import { beforeAll, describe, expect, it } from "vitest";
import { RenderError, type Rendering } from "../stacks/render/engine";
import { clusterOf, imageOf, input, one, ofType, renderForTest } from "./helpers/record";
import { expectSoundGraph } from "./helpers/stack-graph";

describe("Pulumi.dev.yaml", () => {
  let r: Rendering;
  beforeAll(async () => {
    r = await renderForTest("dev");
  });

  it("renders a sound graph: digest image, uploaded init scripts, outputs, secrets kept", () => expectSoundGraph(r));

  it("is a small, cheap team stack that leaves the workspace switch alone", () => {
    expect(r.outputs.containerServicesManaged).toBe(false);
    expect(ofType(r, "databricks:index/workspaceConf:WorkspaceConf")).toHaveLength(0);
    const registry = one(r, "azure-native:containerregistry:Registry");
    expect(registry.protect).toBe(false);
    expect(registry.inputs).toMatchObject({ adminUserEnabled: false, anonymousPullEnabled: false, sku: { name: "Basic" } });
    const cluster = clusterOf(r, "dask");
    expect(cluster.inputs.numWorkers).toBeLessThanOrEqual(4);
    expect(cluster.inputs.autoscale).toBeUndefined();
    expect(cluster.inputs.autoterminationMinutes).toBeLessThanOrEqual(30);
  });

  it("keeps the pull secret in a scope of its own, readable by the cluster's owner; the cluster names it by reference", () => {
    const cluster = clusterOf(r, "dask");
    expect(cluster.secretInputs).toEqual([]);
    expect(input(cluster, "dockerImage.basicAuth.password")).toBe("{{secrets/dcs-hydrology-dev/acr-pull}}");
    expect(input(cluster, "dockerImage.basicAuth.username")).toBe("3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01");
    expect(one(r, "databricks:index/secretScope:SecretScope").inputs.name).toBe("dcs-hydrology-dev");
    // The cluster's owner and the service principal the smoke job runs as (its job cluster pulls the image too).
    expect(ofType(r, "databricks:index/secretAcl:SecretAcl").map((a) => [a.inputs.principal, a.inputs.permission]).sort()).toEqual([
      ["8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d", "READ"],
      ["hydro-dev@contoso.com", "READ"],
    ]);
    expect((r.outputs.externalPrerequisites as string[]).filter((p) => p.includes("secret"))).toEqual([]);
  });

  it("grants AcrPull to the pull identity and pushes with the runner's own login (no AcrPush grant declared)", () => {
    const grants = ofType(r, "azure-native:authorization:RoleAssignment");
    expect(grants.map((g) => g.inputs.principalId)).toEqual(["9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"]);
    expect(imageOf(r).inputs.registry).toBeUndefined();
  });

  it("delivers its logs to a Unity Catalog volume, named as a prerequisite, and links the Dask dashboard through the driver proxy", () => {
    const cluster = clusterOf(r, "dask");
    expect(cluster.inputs.clusterLogConf).toEqual({ volumes: { destination: "/Volumes/hydrology/dcs/cluster-logs/dev" } });
    expect(r.outputs.externalPrerequisites).toEqual([
      expect.stringMatching(/^Unity Catalog volume hydrology\.dcs\.cluster-logs exists .* and hydro-dev@contoso\.com, 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d hold/),
      expect.stringMatching(/may create instance pools \(the allow-instance-pool-create entitlement/),
      expect.stringMatching(/Service Principal User role on 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d .* dcs:teams\.hydrology\.jobPrincipals/),
    ]);
    // Org id from the workspace URL (adb-<org id>.<n>.azuredatabricks.net); 8087, a port the proxy serves.
    const dask = (r.outputs.clusters as Record<string, { id: string; dashboardUrl: string }>).dask;
    expect(dask.dashboardUrl).toBe(`https://adb-1234567890123456.7.azuredatabricks.net/driver-proxy/o/1234567890123456/${dask.id}/8087/status`);
    expect(r.invokes.map((i) => i.token)).not.toContain("azure-native:databricks:getWorkspace");
  });

  it("builds a second, GPU image into its own repository, purged by its own task, pulled with its own key of the same scope", () => {
    const gpu = imageOf(r, "gpu");
    expect(input(gpu, "build.context")).toBe("infra/image-gpu");
    // Built on NVIDIA's CUDA runtime image, imported into the stack's registry like the CPU base.
    expect(input(gpu, "build.args.BASE_IMAGE")).toBe("dcshydrologydev.azurecr.io/nvidia/cuda:12.6.3-runtime-ubuntu24.04");
    expect(input(gpu, "build.args.CUDA_VERSION")).toBe("12.6.3");
    expect(input(gpu, "build.args.PYTHON_VERSION")).toBe("3.12");
    expect(String(gpu.inputs.imageName)).toMatch(/\/hydrology\/dask-gpu:16\.4-lts-[0-9a-f]{12}$/);
    expect(input(imageOf(r), "build.args.CUDA_VERSION")).toBeUndefined();
    const tasks = ofType(r, "azure-native:containerregistry:Task");
    expect(tasks.map((t) => t.inputs.taskName).sort()).toEqual(["dcs-purge", "dcs-purge-gpu"]);
    expect(ofType(r, "databricks:index/secret:Secret").map((x) => x.inputs.key).sort()).toEqual(["acr-pull", "acr-pull-gpu"]);
    expect(input(clusterOf(r, "gpu"), "dockerImage.basicAuth.password")).toBe("{{secrets/dcs-hydrology-dev/acr-pull-gpu}}");
    const images = r.outputs.images as Record<string, { repository: string; cuda?: string }>;
    expect(Object.keys(images).sort()).toEqual(["default", "gpu"]);
    expect(images.gpu).toMatchObject({ repository: "hydrology/dask-gpu", cuda: "12.6.3" });
  });

  it("runs a single-node T4 GPU cluster from a GPU pool that keeps nothing idle", () => {
    const cluster = clusterOf(r, "gpu");
    const pool = one(r, "databricks:index/instancePool:InstancePool");
    expect(pool.inputs).toMatchObject({ nodeTypeId: "Standard_NC4as_T4_v3", minIdleInstances: 0, preloadedSparkVersions: ["16.4.x-scala2.12"] });
    expect(input(pool, "customTags.dcsCuda")).toBe("12.6.3");
    expect((pool.inputs.preloadedDockerImages as { url: string }[])[0].url).toBe((r.outputs.images as Record<string, { ref: string }>).gpu.ref);
    expect(cluster.inputs).toMatchObject({ numWorkers: 0, sparkVersion: "16.4.x-scala2.12", autoterminationMinutes: 10 });
    expect(cluster.inputs.instancePoolId).toBe(cluster.inputs.driverInstancePoolId);
    expect(cluster.inputs.runtimeEngine).toBeUndefined();
    // What the provider requires of a cluster without workers, and what tells the init script to start a worker on the driver.
    expect(cluster.inputs.sparkConf).toMatchObject({ "spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*, 4]" });
    expect(input(cluster, "customTags.ResourceClass")).toBe("SingleNode");
    expect(input(cluster, "sparkEnvVars.DCS_SINGLE_NODE")).toBe("true");
    expect(input(cluster, "sparkEnvVars.DCS_CUDA_VERSION")).toBe("12.6.3");
    expect(input(cluster, "sparkEnvVars.DCS_CUDA_MIN_DRIVER")).toBe("525.60.13");
    // The CPU cluster is untouched by any of it.
    expect(input(clusterOf(r, "dask"), "sparkEnvVars.DCS_CUDA_VERSION")).toBeUndefined();
    expect(input(clusterOf(r, "dask"), "sparkEnvVars.DCS_SINGLE_NODE")).toBeUndefined();
  });

  it("names resources with the URNs the engine forms, so pulumi up --target and pulumi state accept them", () => {
    const urns = r.resources.map((x) => x.urn);
    expect(urns).toContain("urn:pulumi:dev::dcs-platform::dcs:index:ContainerRegistry::registry");
    expect(urns).toContain("urn:pulumi:dev::dcs-platform::dcs:index:ContainerRegistry$azure-native:containerregistry:Registry::registry-acr");
    expect(urns).toContain("urn:pulumi:dev::dcs-platform::dcs:index:ContainerRegistry$dcs:index:RegistryGrant$azure-native:authorization:RoleAssignment::registry-acrpull-assignment");
    expect(urns).toContain("urn:pulumi:dev::dcs-platform::pulumi:pulumi:Stack::dcs-platform-dev");
    expect(urns.filter((u) => u.includes("pulumi:pulumi:Stack$"))).toEqual([]);
  });

  it("rejects bad configuration through the real entry before any resource is declared", async () => {
    const err = await renderForTest("dev", { "dcs:clusters": { dask: { autoscale: { minWorkers: 5, maxWorkers: 2 }, singleUserName: "a@b.c" } }, "dcs:registry": { name: "x" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    const message = (err as RenderError).message;
    expect(message).toContain("Pulumi.dev.yaml");
    expect(message).toContain("dcs:clusters.dask.autoscale.maxWorkers");
    expect(message).toContain("dcs:registry.name");
    expect((err as RenderError).recorded.map((x) => x.type)).toEqual(["pulumi:pulumi:Stack"]);
  });
});
