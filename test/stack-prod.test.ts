import { beforeAll, describe, expect, it } from "vitest";
import type { Rendering } from "../stacks/render/engine";
import { ACR_PUSH_ROLE_ID } from "../components/registryGrant";
import { clusterOf, imageOf, input, one, ofType, renderForTest } from "./helpers/record";
import { expectSoundGraph } from "./helpers/stack-graph";

describe("Pulumi.prod.yaml", () => {
  let r: Rendering;
  beforeAll(async () => {
    r = await renderForTest("prod");
  });

  it("renders a sound graph: digest image, uploaded init scripts, outputs, secrets kept", () => expectSoundGraph(r));

  it("deploys without workspace-admin rights: platform-prod owns the switch, and the cluster runs under its policy", () => {
    expect(r.outputs.containerServicesManaged).toBe(false);
    expect(ofType(r, "databricks:index/workspaceConf:WorkspaceConf")).toHaveLength(0);
    expect(one(r, "pulumi:pulumi:StackReference").inputs.name).toBe("organization/dcs-platform/platform-prod");
    expect(String(clusterOf(r, "dask").inputs.policyId)).toMatch(/^policy-hydrology-policy-id$/);
  });

  it("protects the registry and runs a larger Premium setup", () => {
    const registry = one(r, "azure-native:containerregistry:Registry");
    expect(registry.protect).toBe(true);
    expect(input(registry, "sku.name")).toBe("Premium");
    const cluster = clusterOf(r, "dask");
    expect(cluster.inputs.numWorkers).toBeGreaterThan(4);
    // Driver and workers from warm pools of their own, which preload the image the cluster boots from.
    const pools = ofType(r, "databricks:index/instancePool:InstancePool");
    expect(pools).toHaveLength(2);
    expect(cluster.inputs.driverInstancePoolId).not.toBe(cluster.inputs.instancePoolId);
    expect(cluster.inputs.nodeTypeId).toBeUndefined();
    for (const pool of pools) expect(input(pool, "preloadedDockerImages")).toEqual([{ url: input(cluster, "dockerImage.url"), basicAuth: input(cluster, "dockerImage.basicAuth") }]);
    // Who draws from the pools may attach to them: the cluster's owner and the smoke job's service principal.
    const attach = ofType(r, "databricks:index/permissions:Permissions").filter((p) => p.inputs.instancePoolId !== undefined);
    expect(attach).toHaveLength(2);
    for (const grant of attach) {
      expect(grant.inputs.accessControls).toEqual([
        { servicePrincipalName: "5b2e7d4a-1c3f-4e6a-8b9d-7f0a1b2c3d4e", permissionLevel: "CAN_ATTACH_TO" },
        { servicePrincipalName: "9b0c1d2e-3f4a-4b5c-9d6e-8f9a0b1c2d3e", permissionLevel: "CAN_ATTACH_TO" },
      ]);
    }
    // The job's cluster runs under the team's job-cluster policy, the interactive one under the other.
    const job = one(r, "databricks:index/job:Job");
    expect(input(job, "tasks")).toEqual([expect.objectContaining({ newCluster: expect.objectContaining({ policyId: "policy-hydrology-jobs-policy-id" }) })]);
  });

  it("pulls through the secret it declares and pushes with a secret service-principal password", () => {
    const cluster = clusterOf(r, "dask");
    expect(input(cluster, "dockerImage.basicAuth.password")).toBe("{{secrets/dcs-hydrology-prod/acr-pull}}");
    expect(cluster.secretInputs).toEqual([]);
    const image = imageOf(r);
    expect(image.secretInputs).toEqual(["registry"]);
    expect(input(image, "registry.password")).toBe("[secret]");
    expect(input(image, "registry.username")).toBe("7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b");
  });

  it("grants AcrPush to the push principal and builds only after the grant has had time to apply", () => {
    const image = imageOf(r);
    const push = ofType(r, "azure-native:authorization:RoleAssignment").find((g) => String(g.inputs.roleDefinitionId).endsWith(ACR_PUSH_ROLE_ID));
    expect(push?.inputs).toMatchObject({ principalId: "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a", principalType: "ServicePrincipal" });
    const wait = ofType(r, "time:index/sleep:Sleep").find((s) => s.dependencies.includes(push!.urn));
    expect(wait?.inputs.createDuration).toBe("300s");
    expect(image.dependencies).toContain(wait!.urn);
  });

  it("reaches the workspace platform-prod names (by resource id there, looked up in Azure) and links the dashboard with its org id", async () => {
    const platform = await renderForTest("platform-prod");
    const lookup = platform.invokes.find((i) => i.token === "azure-native:databricks:getWorkspace");
    expect(lookup?.args).toEqual({ resourceGroupName: "rg-databricks-prod", workspaceName: "dbw-hydrology-prod" });
    expect(one(r, "pulumi:providers:databricks").inputs.host).toBe(platform.outputs.workspaceUrl);
    expect((r.outputs.clusters as Record<string, { dashboardUrl: string }>).dask.dashboardUrl).toContain(`/driver-proxy/o/${String(platform.outputs.workspaceId)}/`);
  });
});
