/**
 * Values not known yet never violate a dcs-guardrails rule (policy/rules.ts): the
 * engine's sentinels, compared with `@pulumi/policy`'s list, renderers'
 * placeholders, the SDK's unknown and `undefined` in a recorded preview; while what
 * is known to be missing still violates.
 */
import { describe, expect, it } from "vitest";
import { ENGINE_UNKNOWN_SENTINELS, evaluateStack, isUnknown } from "../policy/rules";
import { cluster, image, policies, policyInternals, registry, TAGS, unknownValues } from "./helpers/policy";

describe("values not known yet never violate", () => {
  it("recognises the engine's sentinels exactly as @pulumi/policy does", () => {
    const theirs = Object.entries(policyInternals)
      .filter(([k, v]) => /^unknown[A-Z]\w*Value$/.test(k) && typeof v === "string")
      .map(([, v]) => v as string);
    expect([...ENGINE_UNKNOWN_SENTINELS].sort()).toEqual([...new Set(theirs)].sort());
    expect(theirs.every((s) => isUnknown(s, "absent"))).toBe(true);
    expect(isUnknown("(computed: image-image.repoDigest)", "absent")).toBe(true);
    expect(isUnknown({ __pulumiUnknown: true }, "absent")).toBe(true);
    expect(isUnknown(undefined)).toBe(true);
    expect(isUnknown(undefined, "absent")).toBe(false);
    expect(isUnknown("", "absent")).toBe(false);
  });

  // Each value below would violate a policy if it were known to be wrong.
  const unknownCluster = (u: unknown) =>
    cluster({
      dockerImage: { url: u, basicAuth: { username: u, password: u } },
      dataSecurityMode: u,
      sparkVersion: u,
      autoterminationMinutes: u,
      customTags: { ...TAGS, team: u, longRunning: u },
      initScripts: u,
    });
  const unknownRegistry = (u: unknown) => registry({ registryName: u, adminUserEnabled: u, anonymousPullEnabled: u, tags: { ...TAGS, environment: u } }, false, "dev");
  const unknownImage = (u: unknown) => image({ build: { context: "infra/image", platform: u } });

  it("undefined during a recorded preview (the default)", () => {
    expect(evaluateStack([unknownRegistry(undefined), unknownImage(undefined), unknownCluster(undefined)])).toEqual([]);
    expect(evaluateStack([{ ...registry(), props: {}, opts: undefined }, { ...cluster(), props: {} }, { ...image(), props: {} }])).toEqual([]);
  });

  it.each(unknownValues("(computed: image-image.repoDigest)"))("%s, in either mode", (_what, u) => {
    for (const mode of ["unknown", "absent"] as const) {
      expect(evaluateStack([unknownRegistry(u), unknownImage(u), unknownCluster(u)], {}, { undefinedMeans: mode })).toEqual([]);
      expect(evaluateStack([registry({ tags: u }), image({ build: u }), cluster({ dockerImage: u, customTags: u })], {}, { undefinedMeans: mode })).toEqual([]);
    }
  });

  it("while a missing key of a known tag map, or a property not set where unknowns are marked, still violates", () => {
    expect(policies([registry(), cluster({ autoterminationMinutes: 240, customTags: { team: "t" } })])).toEqual(["mandatory:cluster-auto-termination", "advisory:cluster-cost-tags"]);
    const unset = cluster({ dataSecurityMode: undefined, customTags: undefined });
    expect(policies([registry(), image({ build: { context: "." } }), unset], {}, "absent")).toEqual([
      "mandatory:cluster-dedicated-access-mode",
      "mandatory:image-platform-linux-amd64",
      "advisory:cluster-cost-tags",
    ]);
    expect(policies([registry(), image({ build: { context: "." } }), unset], {}, "unknown")).toEqual([]);
  });
});
