import { beforeAll, describe, expect, it } from "vitest";
import type { Rendering } from "../stacks/render/engine";
import { one, renderForTest } from "./helpers/record";

describe("Pulumi.admin.yaml (a platform admin's container-services-only stack)", () => {
  let r: Rendering;
  beforeAll(async () => {
    r = await renderForTest("admin");
  });

  it("declares the workspace switch, kept on delete, and nothing a team owns", () => {
    const custom = r.resources.filter((x) => x.custom).map((x) => x.type).sort();
    expect(custom).toEqual(["databricks:index/workspaceConf:WorkspaceConf", "pulumi:providers:databricks"]);
    const toggle = one(r, "databricks:index/workspaceConf:WorkspaceConf");
    expect(toggle.inputs.customConfig).toEqual({ enableDcs: "true" });
    expect(toggle.retainOnDelete).toBe(true);
    expect(one(r, "pulumi:providers:databricks").inputs.host).toBe("https://adb-1234567890123456.7.azuredatabricks.net");
  });

  it("exports only containerServicesManaged and needs no secret", () => {
    expect(r.outputs).toEqual({ containerServicesManaged: true });
    expect(r.placeholderSecrets).toEqual([]);
  });

  it("targets the workspace the dev team stack uses without managing the switch", async () => {
    const dev = await renderForTest("dev");
    expect(one(dev, "pulumi:providers:databricks").inputs.host).toBe(one(r, "pulumi:providers:databricks").inputs.host);
    expect(dev.outputs.containerServicesManaged).toBe(false);
  });
});
