import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ACR_PULL_ROLE_ID, RegistryGrant, sleepDuration } from "../components/registryGrant";
import { RenderError } from "../stacks/render/engine";
import { ofType, one, recordResources, TestResource } from "./helpers/record";

const ROLE = "azure-native:authorization:RoleAssignment";
const SLEEP = "time:index/sleep:Sleep";
const REGISTRY_ID = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/dcsx";

function declare(waitSeconds?: number) {
  return () => {
    const grant = new RegistryGrant("grant", { registryId: pulumi.output(REGISTRY_ID), principalObjectId: "p-1", roleId: ACR_PULL_ROLE_ID, description: "why", waitSeconds });
    const after = new TestResource("test:index:Consumer", "consumer", { dependsOn: [grant.ready] });
    return { assignment: grant.assignmentId, consumer: after.urn };
  };
}

describe("RegistryGrant", () => {
  it("assigns the role on the registry, then waits once per assignment before anything depending on it", async () => {
    const r = await recordResources(declare(240));
    const role = one(r, ROLE);
    expect(role.inputs).toMatchObject({
      scope: REGISTRY_ID,
      principalId: "p-1",
      principalType: "ServicePrincipal",
      roleDefinitionId: `/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL_ROLE_ID}`,
    });
    const wait = one(r, SLEEP);
    // Runs on create only; a new assignment (new id) replaces it and so waits again.
    expect(wait.inputs).toEqual({ createDuration: "240s", triggers: { roleAssignmentId: String(r.outputs.assignment) } });
    expect(wait.dependencies).toContain(role.urn);
    expect(one(r, "test:index:Consumer").dependencies).toEqual([wait.urn]);
  });

  it("hands out the assignment itself when no wait is wanted", async () => {
    const r = await recordResources(declare(0));
    expect(ofType(r, SLEEP)).toHaveLength(0);
    expect(one(r, "test:index:Consumer").dependencies).toEqual([one(r, ROLE).urn]);
  });

  it("refuses a wait that is not whole seconds, before declaring anything", async () => {
    expect(sleepDuration(300)).toBe("300s");
    expect(() => sleepDuration(-1)).toThrow(/whole number of seconds/);
    const err = await recordResources(declare(1.5)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).recorded.filter((x) => x.type === ROLE)).toHaveLength(0);
  });
});
