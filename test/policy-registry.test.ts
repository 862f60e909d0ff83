/**
 * The dcs-guardrails rules (policy/rules.ts) on registries, at their edges: basic
 * auth only from a private registry, the image host against the registry's name or
 * login server, the admin user in dev, protection by environment tag or stack name,
 * and the protect option.
 */
import { describe, expect, it } from "vitest";
import { evaluateStack, stackOfUrn, type StackResource } from "../policy/rules";
import { cluster, DIGEST, policies, registry, TAGS, UNKNOWN_STRING } from "./helpers/policy";

describe("edges of the rules", () => {
  it("requires basic auth only from a private registry, and both of its fields", () => {
    const noAuth = cluster({ dockerImage: { url: DIGEST } });
    expect(policies([registry({ anonymousPullEnabled: true }), noAuth], {}, "absent")).toEqual(["mandatory:acr-anonymous-pull-disabled"]);
    expect(policies([registry(), noAuth], {}, "absent")).toEqual(["mandatory:cluster-image-basic-auth"]);
    // anonymousPullEnabled not set: Azure's default (off), so the registry is private.
    expect(policies([registry({ anonymousPullEnabled: undefined }), noAuth], {}, "absent")).toEqual(["mandatory:cluster-image-basic-auth"]);
    expect(policies([registry({ anonymousPullEnabled: undefined }), noAuth])).toEqual([]); // a recorded preview: basicAuth may not be known yet
    expect(evaluateStack([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: "" } } })])[0].message).toMatch(/\(password missing\)/);
    expect(evaluateStack([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { password: "{{secrets/s/k}}" } } })], {}, { undefinedMeans: "absent" })[0].message).toMatch(/\(username missing\)/);
  });

  it("matches the image host against the registry's name or login server, case-insensitively", () => {
    const byLogin = registry({ registryName: undefined, loginServer: "DcsHydroProd.azurecr.io" });
    expect(policies([byLogin, cluster()], {}, "absent")).toEqual([]);
    const byOutputName = registry({ registryName: undefined, name: "dcshydroprod" }); // a stack policy after an update sees outputs
    expect(policies([byOutputName, cluster()], {}, "absent")).toEqual([]);
    const notKnown = registry({ registryName: undefined, loginServer: UNKNOWN_STRING });
    expect(policies([notKnown, cluster()], {}, "absent")).toEqual([]);
    expect(policies([cluster()], {}, "absent")).toEqual(["mandatory:cluster-image-from-stack-registry"]);
    expect(evaluateStack([cluster()])[0].message).toMatch(/\(none declared\)/);
  });

  it("exempts only a dev registry from the admin-user ban, and only with a known environment tag", () => {
    expect(policies([registry({ adminUserEnabled: true, tags: { ...TAGS, environment: "test" } }), cluster()])).toEqual(["mandatory:acr-admin-user-disabled"]);
    expect(policies([registry({ adminUserEnabled: true, tags: { team: "hydrology" } }), cluster()])).toEqual(["mandatory:acr-admin-user-disabled"]);
  });

  it("protects registries by environment tag or stack name, for the configured environments", () => {
    const staging = (stack: string) => registry({ tags: { ...TAGS, environment: "test" } }, false, stack);
    expect(policies([staging("test"), cluster()])).toEqual([]);
    expect(policies([staging("test"), cluster()], { protectedEnvironments: ["prod", "test"] })).toEqual(["mandatory:registry-protected-in-prod"]);
    expect(evaluateStack([staging("prod"), cluster()])[0].message).toMatch(/\(stack prod\)/);
    expect(stackOfUrn("urn:pulumi:prod-westeurope::dcs-platform::azure-native:containerregistry:Registry::acr")).toBe("prod-westeurope");
    expect(stackOfUrn(undefined)).toBeUndefined();
  });

  it("accepts the protect option nested or flat, and treats options not recorded as not known", () => {
    const flat: StackResource = { ...registry(), opts: undefined, protect: true };
    expect(policies([flat, cluster()])).toEqual([]);
    expect(policies([{ ...flat, protect: false }, cluster()])).toEqual(["mandatory:registry-protected-in-prod"]);
    expect(policies([{ ...registry(), opts: undefined }, cluster()])).toEqual([]);
    expect(policies([{ ...registry(), opts: undefined }, cluster()], {}, "absent")).toEqual(["mandatory:registry-protected-in-prod"]);
  });
});
