/**
 * The dcs-guardrails rules (policy/rules.ts) on clusters, at their edges: access
 * modes, runtimes, auto-termination, cost tags, secrets in Pulumi's wire format,
 * image tags, policy ids, the settings' defaults; and a deliberately bad stack with
 * exactly its violations.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, evaluateStack, STACK_REFERENCE, withDefaults, type StackResource } from "../policy/rules";
import { cluster, DIGEST, image, policies, registry, TAGS, UNKNOWN_STRING } from "./helpers/policy";

describe("edges of the rules", () => {
  it("accepts both names of dedicated mode and refuses the shared, legacy and automatic ones", () => {
    expect(policies([registry(), cluster({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED" })])).toEqual([]);
    for (const mode of ["USER_ISOLATION", "DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_AUTO", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH", "LEGACY_SINGLE_USER", "NONE", "NO_ISOLATION"]) {
      expect(policies([registry(), cluster({ dataSecurityMode: mode })])).toEqual(["mandatory:cluster-dedicated-access-mode"]);
    }
  });

  it("refuses ML (CPU and GPU) and Genomics runtimes", () => {
    for (const v of ["15.4.x-gpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12", "7.3.x-hls-scala2.12", "10.4.x-genomics-scala2.12"]) {
      expect(policies([registry(), cluster({ sparkVersion: v })])).toEqual(["mandatory:cluster-runtime-supports-containers"]);
    }
  });

  it("leaves clusters without a custom container to the general rules", () => {
    const plain = cluster({ dockerImage: undefined, dataSecurityMode: "USER_ISOLATION", sparkVersion: "16.4.x-cpu-ml-scala2.12", autoterminationMinutes: 0 });
    expect(policies([plain], {}, "absent")).toEqual(["mandatory:cluster-auto-termination"]);
  });

  it("caps auto-termination: never off, a longRunning cluster may exceed the cap, the cap is configurable", () => {
    expect(evaluateStack([registry(), cluster({ autoterminationMinutes: 0 })])[0].message).toMatch(/never auto-terminates \(autoterminationMinutes: 0\)/);
    expect(policies([registry(), cluster({ autoterminationMinutes: 120 })])).toEqual([]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 480, customTags: { ...TAGS, longRunning: "true" } })])).toEqual([]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 0, customTags: { ...TAGS, longRunning: "true" } })])).toEqual(["mandatory:cluster-auto-termination"]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 480, customTags: { ...TAGS, longRunning: "yes" } })])).toEqual(["mandatory:cluster-auto-termination"]);
    expect(policies([registry(), cluster({ autoterminationMinutes: 90 })], { maxAutoterminationMinutes: 60 })).toEqual(["mandatory:cluster-auto-termination"]);
  });

  it("reads an unset auto-termination as the provider's default of 60 minutes", () => {
    expect(policies([registry(), cluster({ autoterminationMinutes: undefined })], {}, "absent")).toEqual([]);
    expect(evaluateStack([registry(), cluster({ autoterminationMinutes: undefined })], { maxAutoterminationMinutes: 30 }, { undefinedMeans: "absent" })[0].message).toMatch(
      /after 60 minutes \(the provider's default\), above the 30-minute cap/,
    );
  });
  it("takes the cost tags from the config, and an empty value counts as missing", () => {
    expect(policies([registry(), cluster()], { costTags: ["team", "project"] })).toEqual(["advisory:cluster-cost-tags"]);
    expect(evaluateStack([registry(), cluster({ customTags: { ...TAGS, team: " " } })])[0].message).toMatch(/lacks the cost tags team in/);
  });

  it("judges secrets in Pulumi's wire format by their value", () => {
    const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
    expect(policies([registry(), cluster({ dockerImage: { url: secret(DIGEST), basicAuth: { username: "u", password: secret("{{secrets/s/k}}") } }, customTags: { ...TAGS, team: secret("t") } })])).toEqual([]);
    // A secret value is still a value: a raw client secret in the spec is refused, wrapped or not.
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret("raw") } } })])).toEqual(["mandatory:cluster-pull-secret-by-reference"]);
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret("") } } })])).toEqual(["mandatory:cluster-image-basic-auth"]);
    expect(policies([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: secret(UNKNOWN_STRING) } } })], {}, "absent")).toEqual([]);
  });

  it("accepts the content tag of an image the stack builds, and no other tag", () => {
    const built = "dcshydroprod.azurecr.io/hydrology/dask:16.4-lts-0123456789ab";
    const auth = { username: "u", password: "{{secrets/s/k}}" };
    expect(policies([registry(), image(), cluster({ dockerImage: { url: built, basicAuth: auth } })])).toEqual([]);
    expect(policies([registry(), image(), cluster({ dockerImage: { url: built.replace("0123", "9999"), basicAuth: auth } })])).toEqual(["mandatory:cluster-image-pinned"]);
    // While the image's name is not known yet, a tag cannot be ruled out.
    expect(policies([registry(), image({ imageName: "(computed: x)" }), cluster({ dockerImage: { url: built.replace("0123", "9999"), basicAuth: auth } })])).toEqual([]);
    expect(policies([registry(), cluster({ dockerImage: { url: "dcshydroprod.azurecr.io/hydrology/dask", basicAuth: auth } })])).toEqual(["mandatory:cluster-image-pinned"]);
  });

  it("asks for a policy id only in a team stack that reads a platform stack", () => {
    const ref = { type: STACK_REFERENCE, name: "platform", props: { name: "p" } };
    expect(policies([registry(), cluster({ policyId: "POL-1" }), ref])).toEqual([]);
    expect(policies([registry(), cluster(), ref])).toEqual(["mandatory:cluster-uses-platform-policy"]);
    expect(policies([registry(), cluster()])).toEqual([]);
  });

  it("fills in defaults for settings not given", () => {
    expect(withDefaults()).toEqual(DEFAULT_CONFIG);
    expect(withDefaults({ costTags: [] })).toEqual({ ...DEFAULT_CONFIG, costTags: [] });
  });
});

describe("a deliberately bad stack", () => {
  const bad = (): StackResource[] => [
    registry({ adminUserEnabled: true, anonymousPullEnabled: true, tags: { environment: "prod" } }, false),
    image({ build: { context: "infra/image" } }),
    cluster({
      dockerImage: { url: "docker.io/someone/dask:latest" },
      dataSecurityMode: "USER_ISOLATION",
      sparkVersion: "15.4.x-gpu-ml-scala2.12",
      autoterminationMinutes: 0,
      customTags: { environment: "prod" },
      initScripts: [{ dbfs: { destination: "dbfs:/init.sh" } }, { workspace: { destination: "/Shared/ok.sh" } }],
    }),
  ];

  it("yields exactly the expected violations, where unknowns are marked (CrossGuard)", () => {
    expect(evaluateStack(bad(), {}, { undefinedMeans: "absent" }).map((f) => `${f.enforcement}:${f.policy}:${f.resource}`)).toEqual([
      "mandatory:acr-admin-user-disabled:registry-acr",
      "mandatory:acr-anonymous-pull-disabled:registry-acr",
      "mandatory:cluster-image-pinned:cluster-dask-cluster",
      "mandatory:cluster-image-from-stack-registry:cluster-dask-cluster",
      "mandatory:cluster-dedicated-access-mode:cluster-dask-cluster",
      "mandatory:cluster-runtime-supports-containers:cluster-dask-cluster",
      "mandatory:cluster-auto-termination:cluster-dask-cluster",
      "mandatory:registry-protected-in-prod:registry-acr",
      "mandatory:image-platform-linux-amd64:image-image",
      "advisory:init-scripts-not-on-dbfs:cluster-dask-cluster",
      "advisory:cluster-cost-tags:cluster-dask-cluster",
    ]);
  });

  it("yields the same in a recorded preview, less what an undefined property cannot prove", () => {
    expect(policies(bad()).sort()).toEqual(
      [
        "mandatory:acr-admin-user-disabled",
        "mandatory:acr-anonymous-pull-disabled",
        "mandatory:cluster-image-pinned",
        "mandatory:cluster-image-from-stack-registry",
        "mandatory:cluster-dedicated-access-mode",
        "mandatory:cluster-runtime-supports-containers",
        "mandatory:cluster-auto-termination",
        "mandatory:registry-protected-in-prod",
        "advisory:init-scripts-not-on-dbfs",
        "advisory:cluster-cost-tags",
      ].sort(),
    );
  });

  it("flags basic auth once the registry is private and the image comes from it", () => {
    const stack = bad();
    stack[0] = registry({ adminUserEnabled: false, anonymousPullEnabled: false }, true);
    stack[2].props.dockerImage = { url: DIGEST };
    expect(policies(stack, {}, "absent")).toContain("mandatory:cluster-image-basic-auth");
  });
});
