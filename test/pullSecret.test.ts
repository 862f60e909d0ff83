import * as databricks from "@pulumi/databricks";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parseSecretReference, permissionFor, principalSlug, PullSecret, readersOf, secretReference, validatePullSecretArgs, type PullSecretArgs } from "../components/pullSecret";
import { RenderError } from "../stacks/render/engine";
import { ofType, one, recordResources } from "./helpers/record";

const SCOPE = "databricks:index/secretScope:SecretScope";
const SECRET = "databricks:index/secret:Secret";
const ACL = "databricks:index/secretAcl:SecretAcl";
const VALUE = "pull-client-SECRET-5d1c";

const ACL_BY_PRINCIPAL = (r: Awaited<ReturnType<typeof recordResources>>) => Object.fromEntries(ofType(r, ACL).map((a) => [String(a.inputs.principal), a.inputs.permission]));

function declare(args: Record<string, unknown>) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const full = (args.mode === "external" ? args : { provider, ...args }) as PullSecretArgs;
    const s = new PullSecret("pull-secret", full);
    return { reference: s.reference, prerequisites: s.prerequisites, ready: s.ready.length };
  };
}

describe("PullSecret", () => {
  it("declares a scope, the secret (a Pulumi secret) and READ for each reader, and hands the cluster a reference", async () => {
    const r = await recordResources(declare({ mode: "declared", scope: "dcs-hydrology-dev", key: "acr-pull", value: pulumi.secret(VALUE), readers: ["hydro@contoso.com", "data-team"] }));
    const scope = one(r, SCOPE);
    expect(scope.inputs).toMatchObject({ name: "dcs-hydrology-dev" });
    expect(scope.inputs.initialManagePrincipal).toBeUndefined(); // never "users": that would let everyone read it
    const secret = one(r, SECRET);
    expect(secret.inputs).toMatchObject({ scope: "dcs-hydrology-dev", key: "acr-pull", stringValue: "[secret]" });
    expect(secret.secretInputs).toEqual(["stringValue"]);
    expect(secret.dependencies).toContain(scope.urn);
    const acls = ofType(r, ACL);
    expect(acls.map((a) => a.inputs).sort((a, b) => String(a.principal).localeCompare(String(b.principal)))).toEqual([
      expect.objectContaining({ scope: "dcs-hydrology-dev", principal: "data-team", permission: "READ" }),
      expect.objectContaining({ scope: "dcs-hydrology-dev", principal: "hydro@contoso.com", permission: "READ" }),
    ]);
    // Secret and ACLs have no update in the provider: replaced delete-first, or Pulumi deletes what it just wrote.
    for (const res of [secret, ...acls]) expect(res.deleteBeforeReplace, res.name).toBe(true);
    expect(r.outputs).toEqual({ reference: "{{secrets/dcs-hydrology-dev/acr-pull}}", prerequisites: [], ready: 3 });
    expect(JSON.stringify(r)).not.toContain(VALUE);
  });

  it("never takes MANAGE from the identity that runs pulumi up: a reader who is that identity keeps MANAGE", async () => {
    const args = { mode: "declared", scope: "s", key: "k", value: "v", readers: ["Hydro@Contoso.com", "data-team"], managers: ["7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b"] };
    const asOwner = await recordResources(declare(args), "simulated", "hydro@contoso.com");
    expect(ACL_BY_PRINCIPAL(asOwner)).toEqual({ "Hydro@Contoso.com": "MANAGE", "data-team": "READ", "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b": "MANAGE" });
    const asPipeline = await recordResources(declare(args), "simulated", "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b");
    expect(ACL_BY_PRINCIPAL(asPipeline)).toEqual({ "Hydro@Contoso.com": "READ", "data-team": "READ", "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b": "MANAGE" });
    // The grants come after the secret is written.
    const secret = one(asOwner, SECRET);
    for (const acl of ofType(asOwner, ACL)) expect(acl.dependencies).toContain(secret.urn);
    expect(permissionFor("a@b.c", undefined, "READ")).toBe("READ");
  });

  it("names an external secret as a prerequisite and declares nothing", async () => {
    const r = await recordResources(declare({ mode: "external", reference: "{{secrets/security/acr-hydrology}}", readers: ["hydro@contoso.com"] }));
    expect(r.resources.filter((x) => x.custom && !x.type.startsWith("pulumi:providers:"))).toHaveLength(0);
    expect(r.outputs.reference).toBe("{{secrets/security/acr-hydrology}}");
    expect(r.outputs.ready).toBe(0);
    const [prerequisite] = r.outputs.prerequisites as string[];
    expect(prerequisite).toMatch(/scope "security", key "acr-hydrology"/);
    expect(prerequisite).toMatch(/READ on it to hydro@contoso.com/);
  });

  it("refuses bad names and a missing reader before declaring anything", async () => {
    expect(validatePullSecretArgs({ mode: "external", reference: "secrets/x/y", readers: ["a"] })).toEqual([expect.stringMatching(/not \{\{secrets/)]);
    expect(validatePullSecretArgs({ mode: "declared", scope: "a b", key: "k/1", value: "v", readers: [], provider: undefined as never })).toHaveLength(3);
    expect(validatePullSecretArgs({ mode: "declared", scope: "s", key: "k", value: "v", readers: ["a.b", "a-b"], provider: undefined as never })).toEqual([expect.stringMatching(/"a\.b" and "a-b" would share the resource name/)]);
    expect(validatePullSecretArgs({ mode: "declared", scope: "s", key: "k", value: "v", readers: ["x"], managers: ["X"], provider: undefined as never })).toEqual([expect.stringMatching(/listed as reader and manager/)]);
    const err = await recordResources(declare({ mode: "declared", scope: "has space", key: "k", value: "v", readers: ["a"] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).recorded.filter((x) => x.type === SCOPE)).toHaveLength(0);
  });

  it("builds and reads references, readers and resource-name slugs", () => {
    expect(secretReference("s", "k")).toBe("{{secrets/s/k}}");
    expect(parseSecretReference("{{secrets/s/k}}")).toEqual({ scope: "s", key: "k" });
    expect(parseSecretReference("{{secrets/s}}")).toBeUndefined();
    expect(readersOf("owner@x.com", ["team", "Owner@X.com", " "])).toEqual(["owner@x.com", "team"]);
    expect(principalSlug("Hydro.Dev@Contoso.com")).toBe("hydro-dev-contoso-com");
  });

  it("keeps further secrets, one per image, in the same scope: each a Pulumi secret replaced delete-first, each with its reference; a key used twice is refused", async () => {
    const r = await recordResources(
      declare({ mode: "declared", scope: "dcs-hydrology-dev", key: "acr-pull", value: pulumi.secret(VALUE), more: [{ key: "acr-pull-gpu", value: pulumi.secret("gpu-VALUE-never") }], readers: ["hydro@contoso.com"] }),
    );
    const secrets = ofType(r, SECRET);
    expect(secrets.map((s) => s.inputs.key)).toEqual(["acr-pull", "acr-pull-gpu"]);
    for (const s of secrets) {
      expect(s.secretInputs).toEqual(["stringValue"]);
      expect(s.deleteBeforeReplace).toBe(true);
      expect(s.inputs.scope).toBe("dcs-hydrology-dev");
    }
    expect(JSON.stringify(r)).not.toContain("gpu-VALUE-never");
    expect(r.outputs.ready).toBe(3); // both secrets and the one READ grant
    expect(validatePullSecretArgs({ mode: "declared", scope: "s", key: "acr-pull", value: "v", more: [{ key: "acr-pull", value: "w" }], readers: ["a@b.c"], provider: undefined as never })).toContain(
      "keys acr-pull are used twice in the scope",
    );
  });
});
