import { describe, expect, it } from "vitest";
import { ACR_PULL_ROLE_ID, ACR_PUSH_ROLE_ID, ContainerRegistry, roleDefinitionIdFor, validateContainerRegistryArgs, type ContainerRegistryArgs } from "../components/containerRegistry";
import { RenderError } from "../stacks/render/engine";
import { input, one, ofType, recordResources } from "./helpers/record";

const REGISTRY = "azure-native:containerregistry:Registry";
const GROUP = "azure-native:resources:ResourceGroup";
const ROLE = "azure-native:authorization:RoleAssignment";
const SLEEP = "time:index/sleep:Sleep";
const PRINCIPAL = "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
const PUSHER = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a";

const base: ContainerRegistryArgs = {
  location: "westeurope",
  resourceGroup: { name: "rg-dcs" },
  registryName: "dcshydrodev",
  pullPrincipalObjectId: PRINCIPAL,
  tags: { environment: "dev" },
};

function declare(args: Partial<ContainerRegistryArgs> = {}) {
  return () => {
    const reg = new ContainerRegistry("registry", { ...base, ...args });
    return { loginServer: reg.loginServer, registryId: reg.registryId, registryName: reg.registryName, admin: reg.adminCredentials?.password };
  };
}

describe("ContainerRegistry", () => {
  it("creates a group and a private registry with the admin user off, and grants AcrPull to the pull identity", async () => {
    const r = await recordResources(declare());
    const group = one(r, GROUP);
    expect(group.inputs.resourceGroupName).toBe("rg-dcs");
    const reg = one(r, REGISTRY);
    expect(reg.inputs).toMatchObject({ registryName: "dcshydrodev", resourceGroupName: "rg-dcs", adminUserEnabled: false, anonymousPullEnabled: false, location: "westeurope", tags: { environment: "dev" } });
    expect(input(reg, "sku.name")).toBe("Basic");
    expect(reg.dependencies).toContain(group.urn);
    expect(reg.protect).toBe(false);

    const role = one(r, ROLE);
    expect(role.inputs.principalId).toBe(PRINCIPAL);
    expect(role.inputs.principalType).toBe("ServicePrincipal");
    expect(role.inputs.scope).toBe(String(r.outputs.registryId));
    expect(role.inputs.roleDefinitionId).toBe(`/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL_ROLE_ID}`);
    expect(r.outputs.loginServer).toBe("dcshydrodev.azurecr.io");
    expect(r.outputs.registryName).toBe("dcshydrodev");
    expect(r.invokes).toHaveLength(0);
  });

  it("keeps the AcrPull assignment it declared before under its old URN, and waits after it", async () => {
    const r = await recordResources(declare({ grantWaitSeconds: 120 }));
    const role = one(r, ROLE);
    // Where the assignment lived before it moved into RegistryGrant (directly under the registry): the engine maps that state to it.
    expect(role.aliases).toEqual([`urn:pulumi:test::dcs-platform::dcs:index:ContainerRegistry$${ROLE}::registry-acrpull`]);
    const wait = one(r, SLEEP);
    expect(wait.inputs.createDuration).toBe("120s");
    expect(wait.dependencies).toContain(role.urn);
    expect(ofType(r, ROLE).map((x) => x.inputs.principalId)).toEqual([PRINCIPAL]);
  });

  it("grants AcrPush to a push principal, with its own wait", async () => {
    const r = await recordResources(declare({ pushPrincipalObjectId: PUSHER }));
    const push = ofType(r, ROLE).find((x) => x.inputs.principalId === PUSHER)!;
    expect(push.inputs.roleDefinitionId).toBe(`/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/${ACR_PUSH_ROLE_ID}`);
    expect(ACR_PUSH_ROLE_ID).toBe("8311e382-0749-4cb8-b61a-304f252e45ec");
    expect(ofType(r, SLEEP).filter((x) => x.dependencies.includes(push.urn))).toHaveLength(1);
    expect(push.aliases).toEqual([]);
  });

  it("references an existing resource group instead of creating one", async () => {
    const r = await recordResources(declare({ resourceGroup: { name: "rg-shared", existing: true } }));
    expect(ofType(r, GROUP)).toHaveLength(0);
    expect(one(r, REGISTRY).inputs.resourceGroupName).toBe("rg-shared");
  });

  it("protects the registry when asked and passes the SKU through", async () => {
    const r = await recordResources(declare({ protect: true, sku: "Premium" }));
    const reg = one(r, REGISTRY);
    expect(reg.protect).toBe(true);
    expect(input(reg, "sku.name")).toBe("Premium");
  });

  it("reads admin credentials only when the admin user is enabled, and keeps the password secret", async () => {
    const r = await recordResources(declare({ adminUserEnabled: true }));
    expect(one(r, REGISTRY).inputs.adminUserEnabled).toBe(true);
    expect(r.invokes.map((i) => i.token)).toEqual(["azure-native:containerregistry:listRegistryCredentials"]);
    expect(r.outputs.admin).toBe("[secret]");
  });

  it("rejects a bad registry name before declaring the registry", async () => {
    expect(validateContainerRegistryArgs({ ...base, registryName: "dcs-hydro" })).toEqual([expect.stringMatching(/5 to 50 letters and digits/)]);
    const err = await recordResources(declare({ registryName: "dcs-hydro" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).message).toMatch(/dcs-hydro.*5 to 50/);
    expect((err as RenderError).recorded.filter((x) => x.custom)).toHaveLength(0);
  });

  it("derives the role definition id from the registry's subscription", () => {
    expect(roleDefinitionIdFor("/subscriptions/abc/resourceGroups/rg/providers/x/y/z", "r1")).toBe("/subscriptions/abc/providers/Microsoft.Authorization/roleDefinitions/r1");
    expect(() => roleDefinitionIdFor("not-an-id", "r1")).toThrow(/not an Azure resource id/);
  });

  it("grants AcrPull to an image's own pull identity, with its own wait, beside the stack's", async () => {
    const own = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
    const r = await recordResources(declare({ morePullPrincipals: { gpu: own } }));
    const roles = ofType(r, ROLE);
    expect(roles.map((x) => [x.inputs.principalId, String(x.inputs.roleDefinitionId).split("/").pop()])).toEqual([
      [PRINCIPAL, ACR_PULL_ROLE_ID],
      [own, ACR_PULL_ROLE_ID],
    ]);
    const waits = ofType(r, SLEEP);
    const ownRole = roles.find((x) => x.inputs.principalId === own)!;
    expect(waits.find((w) => w.dependencies.includes(ownRole.urn))?.name).toBe("registry-acrpull-gpu-propagation");
  });
});
