/**
 * A team stack against its platform stack's outputs, given here instead of
 * rendered: every refusal of the contract (stacks/platformContract.ts) comes
 * before anything is declared and names the key to fix.
 */
import { describe, expect, it } from "vitest";
import { RenderError } from "../stacks/render/engine";
import { platformOutputs } from "../stacks/team";
import { clusterOf, one, renderForTest } from "./helpers/record";

const REF = "organization/dcs-platform/platform-dev";
const good = () => ({
  workspaceUrl: "https://adb-99.1.azuredatabricks.net",
  workspaceId: "99",
  containerServicesEnabled: true,
  teams: { hydrology: { policyId: "POLICY-1", group: "hydrology-team", registries: ["dcshydrologydev.azurecr.io"], fixedTags: { team: "hydrology", costCenter: "HYD-4410" } } },
});

async function refused(outputs: Record<string, unknown>): Promise<RenderError> {
  const err = await renderForTest("dev", {}, "simulated", { [REF]: outputs }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RenderError);
  // Nothing managed was declared: only the stack itself and the read of the platform stack.
  expect((err as RenderError).recorded.filter((x) => x.custom && !x.read).map((x) => x.type)).toEqual([]);
  expect((err as RenderError).message).toContain("Pulumi.dev.yaml");
  return err as RenderError;
}

describe("a team stack reads its platform stack", () => {
  it("takes the workspace and its team's policy from the outputs", async () => {
    const r = await renderForTest("dev", {}, "simulated", { [REF]: good() });
    expect(one(r, "pulumi:providers:databricks").inputs.host).toBe("https://adb-99.1.azuredatabricks.net");
    const cluster = clusterOf(r, "dask");
    expect(cluster.inputs.policyId).toBe("POLICY-1");
    expect(cluster.inputs.customTags).toMatchObject({ team: "hydrology", costCenter: "HYD-4410" });
    expect((r.outputs.clusters as Record<string, { dashboardUrl: string }>).dask.dashboardUrl).toMatch(/^https:\/\/adb-99\.1\.azuredatabricks\.net\/driver-proxy\/o\/99\//);
    expect(one(r, "pulumi:pulumi:StackReference").inputs.name).toBe(REF);
    expect(r.findings).toEqual([]);
  });

  it("refuses a platform stack with no outputs: deploy it first", async () => {
    const err = await refused({});
    expect(err.message).toMatch(/dcs:platform\.stack: platform stack organization\/dcs-platform\/platform-dev has no outputs: it is not deployed yet.*Deploy it first/);
  });

  it("names the key when the platform stack cannot be read at all (never created, or a wrong name)", async () => {
    const missing = async () => {
      throw new Error("unknown stack \"organization/dcs-platform/platform-x\"");
    };
    const err = await platformOutputs(missing, "dev", "organization/dcs-platform/platform-x").catch((e: unknown) => e);
    expect(String(err)).toMatch(/dcs:platform\.stack: platform stack organization\/dcs-platform\/platform-x cannot be read \(unknown stack .*\); create and deploy it first/);
    const found = await platformOutputs(async (name) => ({ value: `v-${name}` }), "dev", "p");
    expect(found).toEqual({ workspaceUrl: "v-workspaceUrl", workspaceId: "v-workspaceId", containerServicesEnabled: "v-containerServicesEnabled", teams: "v-teams" });
  });

  it("refuses when container services are not on", async () => {
    const err = await refused({ ...good(), containerServicesEnabled: false });
    expect(err.message).toMatch(/dcs:platform\.stack: .*has not enabled container services/);
  });

  it("refuses a registry the platform does not approve for the team", async () => {
    const outputs = good();
    outputs.teams.hydrology.registries = ["otherregistry.azurecr.io"];
    const err = await refused(outputs);
    expect(err.message).toMatch(/dcs:registry\.name: dcshydrologydev\.azurecr\.io is not among the registries .* approves for team hydrology \(otherregistry\.azurecr\.io\)/);
  });

  it("refuses a team the platform does not list", async () => {
    const err = await refused({ ...good(), teams: { geology: good().teams.hydrology } });
    expect(err.message).toMatch(/dcs:team: .*lists no team "hydrology" \(it lists geology\)/);
  });

  it("refuses when an output it needs is missing", async () => {
    const { teams: _teams, ...rest } = good();
    void _teams;
    const err = await refused(rest);
    expect(err.message).toMatch(/dcs:platform\.stack: .*does not export teams/);
  });

  it("refuses a tag of its own that the platform's policy fixes to another value", async () => {
    const outputs = good();
    outputs.teams.hydrology.fixedTags.costCenter = "OTHER-1";
    const err = await refused(outputs);
    expect(err.message).toMatch(/dcs:costCenter: is "HYD-4410", but the platform stack's cluster policy fixes the cluster tag costCenter to "OTHER-1"/);
  });

  it("renders against a platform stack outside this repository with placeholders and a warning, refusing nothing", async () => {
    const r = await renderForTest("dev", { "dcs:platform": { stack: "elsewhere/dcs-platform/platform-x" } });
    expect(r.warnings).toContain("platform stack elsewhere/dcs-platform/platform-x is not a stack of this repository (no Pulumi.platform-x.yaml): its outputs are rendered as placeholders");
    expect(clusterOf(r, "dask").inputs.policyId).toBe("(computed: elsewhere/dcs-platform/platform-x output teams)");
    expect(r.findings).toEqual([]);
  });
});

describe("a team stack without a platform stack (small setups)", () => {
  it("names its workspace itself and manages the switch when told to, with no StackReference and no policy", async () => {
    const r = await renderForTest("dev", {
      "dcs:platform": null,
      "dcs:workspace": { url: "https://adb-5.5.azuredatabricks.net" },
      "dcs:containerServices": { manage: true },
    });
    expect(r.resources.filter((x) => x.type === "pulumi:pulumi:StackReference")).toEqual([]);
    expect(one(r, "pulumi:providers:databricks").inputs.host).toBe("https://adb-5.5.azuredatabricks.net");
    const toggle = one(r, "databricks:index/workspaceConf:WorkspaceConf");
    expect(toggle.retainOnDelete).toBe(true);
    const cluster = clusterOf(r, "dask");
    expect(cluster.dependencies).toContain(toggle.urn);
    expect(cluster.inputs.policyId).toBeUndefined();
    expect(r.outputs.containerServicesManaged).toBe(true);
    expect(r.findings).toEqual([]);
  });
});
