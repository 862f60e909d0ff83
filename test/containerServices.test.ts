import * as databricks from "@pulumi/databricks";
import { describe, expect, it } from "vitest";
import { ContainerServices, ENABLE_DCS } from "../components/containerServices";
import { one, ofType, providerUrn, recordResources } from "./helpers/record";

const TOGGLE = "databricks:index/workspaceConf:WorkspaceConf";

describe("ContainerServices", () => {
  it("sets enableDcs=true through the given provider and keeps it on delete when the stack manages it", async () => {
    const r = await recordResources(() => {
      const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
      const cs = new ContainerServices("cs", { manage: true, provider });
      return { managed: cs.managed };
    });
    const toggle = one(r, TOGGLE);
    expect(toggle.inputs.customConfig).toEqual({ enableDcs: "true" });
    expect(ENABLE_DCS.enableDcs).toBe("true");
    expect(toggle.retainOnDelete).toBe(true);
    expect(providerUrn(toggle)).toBe(one(r, "pulumi:providers:databricks").urn);
    expect(toggle.parent).toBe(one(r, "dcs:index:ContainerServices").urn);
    expect(r.outputs.managed).toBe(true);
  });

  it("declares nothing workspace-wide when the stack does not manage the toggle", async () => {
    const r = await recordResources(() => {
      const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
      const cs = new ContainerServices("cs", { provider });
      return { managed: cs.managed, hasToggle: cs.toggle !== undefined };
    });
    expect(ofType(r, TOGGLE)).toHaveLength(0);
    expect(r.outputs).toEqual({ hasToggle: false, managed: false });
  });
});
