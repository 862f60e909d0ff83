import { beforeAll, describe, expect, it } from "vitest";
import { imageUrlPattern } from "../components/clusterPolicy";
import type { Rendering } from "../stacks/render/engine";
import { clusterOf, one, ofType, renderForTest } from "./helpers/record";

describe("Pulumi.platform-dev.yaml (a platform stack: one per workspace, run by a workspace admin)", () => {
  let r: Rendering;
  beforeAll(async () => {
    r = await renderForTest("platform-dev");
  });

  it("declares the switch, kept on delete, per team a policy for all-purpose and one for job clusters with CAN_USE for its group, and nothing a team owns", () => {
    const custom = r.resources.filter((x) => x.custom).map((x) => x.type).sort();
    expect(custom).toEqual([
      "databricks:index/clusterPolicy:ClusterPolicy",
      "databricks:index/clusterPolicy:ClusterPolicy",
      "databricks:index/permissions:Permissions",
      "databricks:index/permissions:Permissions",
      "databricks:index/workspaceConf:WorkspaceConf",
      "pulumi:providers:databricks",
    ]);
    const toggle = one(r, "databricks:index/workspaceConf:WorkspaceConf");
    expect(toggle.inputs.customConfig).toEqual({ enableDcs: "true" });
    expect(toggle.retainOnDelete).toBe(true);
    const [policy, jobPolicy] = ["policy-hydrology-policy", "policy-hydrology-jobs-policy"].map((n) => r.resources.find((x) => x.name === n)!);
    const jobDefinition = JSON.parse(String(jobPolicy.inputs.definition)) as Record<string, unknown>;
    // A job's cluster sends no auto-termination: its policy neither requires nor bounds it.
    expect(jobDefinition.cluster_type).toEqual({ type: "fixed", value: "job" });
    expect(jobDefinition).not.toHaveProperty("autotermination_minutes");
    const definition = JSON.parse(String(policy.inputs.definition)) as Record<string, { type: string; pattern?: string; value?: string; values?: string[] }>;
    expect(definition["docker_image.url"]).toEqual({ type: "regex", pattern: imageUrlPattern(["dcshydrologydev.azurecr.io"]) });
    expect(definition["data_security_mode"].values).toEqual(["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"]);
    expect(definition["custom_tags.team"]).toEqual({ type: "fixed", value: "hydrology" });
    expect(definition.cluster_type).toEqual({ type: "fixed", value: "all-purpose" });
    expect(definition).toHaveProperty("autotermination_minutes");
    const grant = r.resources.find((x) => x.name === "policy-hydrology-can-use")!;
    expect(grant.inputs.accessControls).toEqual([{ groupName: "hydrology-team", permissionLevel: "CAN_USE" }]);
    expect(grant.dependencies).toContain(policy.urn);
  });

  it("exports what team stacks read, and nothing secret", () => {
    expect(Object.keys(r.outputs).sort()).toEqual(["containerServicesEnabled", "containerServicesManaged", "teams", "workspaceId", "workspaceUrl"]);
    expect(r.outputs).toMatchObject({
      containerServicesEnabled: true,
      workspaceUrl: "https://adb-1234567890123456.7.azuredatabricks.net",
      workspaceId: "1234567890123456",
      teams: { hydrology: { group: "hydrology-team", registries: ["dcshydrologydev.azurecr.io"], fixedTags: { team: "hydrology", costCenter: "HYD-4410" }, policyId: expect.any(String), jobPolicyId: expect.any(String) } },
    });
    expect(JSON.stringify(r.outputs)).not.toContain("[secret]");
    expect(r.placeholderSecrets).toEqual([]);
    expect(r.findings).toEqual([]);
  });

  it("is the workspace the dev team stack deploys into, under its policy, without managing the switch", async () => {
    const dev = await renderForTest("dev");
    expect(one(dev, "pulumi:providers:databricks").inputs.host).toBe(r.outputs.workspaceUrl);
    expect(ofType(dev, "databricks:index/workspaceConf:WorkspaceConf")).toHaveLength(0);
    for (const name of ["dask", "gpu"]) expect(clusterOf(dev, name).inputs.policyId).toBe((r.outputs.teams as Record<string, { policyId: string }>).hydrology.policyId);
    expect(dev.outputs.containerServicesManaged).toBe(false);
  });

  it("platform-prod names its workspace by resource id and approves prod's registry", async () => {
    const prod = await renderForTest("platform-prod");
    expect(one(prod, "pulumi:providers:databricks").inputs.azureWorkspaceResourceId).toMatch(/\/workspaces\/dbw-hydrology-prod$/);
    expect((prod.outputs.teams as Record<string, { registries: string[] }>).hydrology.registries).toEqual(["dcshydrologyprod.azurecr.io"]);
  });
});
