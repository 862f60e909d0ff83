import { beforeAll, describe, expect, it } from "vitest";
import { RenderError, type Rendering } from "../stacks/render/engine";
import { input, one, ofType, renderForTest } from "./helpers/record";
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
    const cluster = one(r, "databricks:index/cluster:Cluster");
    expect(cluster.inputs.numWorkers).toBeLessThanOrEqual(4);
    expect(cluster.inputs.autoscale).toBeUndefined();
    expect(cluster.inputs.autoterminationMinutes).toBeLessThanOrEqual(30);
  });

  it("keeps the pull secret in a scope of its own, readable by the cluster's owner; the cluster names it by reference", () => {
    const cluster = one(r, "databricks:index/cluster:Cluster");
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
    expect(one(r, "docker:index/image:Image").inputs.registry).toBeUndefined();
  });

  it("delivers its logs to a Unity Catalog volume, named as a prerequisite, and links the Dask dashboard through the driver proxy", () => {
    const cluster = one(r, "databricks:index/cluster:Cluster");
    expect(cluster.inputs.clusterLogConf).toEqual({ volumes: { destination: "/Volumes/hydrology/dcs/cluster-logs/dev" } });
    expect(r.outputs.externalPrerequisites).toEqual([
      expect.stringMatching(/^Unity Catalog volume hydrology\.dcs\.cluster-logs exists .* and hydro-dev@contoso\.com, 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d hold/),
      expect.stringMatching(/Service Principal User role on 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d .* dcs:teams\.hydrology\.jobPrincipals/),
    ]);
    // Org id from the workspace URL (adb-<org id>.<n>.azuredatabricks.net); 8087, a port the proxy serves.
    const dask = (r.outputs.clusters as Record<string, { id: string; dashboardUrl: string }>).dask;
    expect(dask.dashboardUrl).toBe(`https://adb-1234567890123456.7.azuredatabricks.net/driver-proxy/o/1234567890123456/${dask.id}/8087/status`);
    expect(r.invokes.map((i) => i.token)).not.toContain("azure-native:databricks:getWorkspace");
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
