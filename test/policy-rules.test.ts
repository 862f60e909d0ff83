import { describe, expect, it } from "vitest";
import { CLUSTER, DEFAULT_CONFIG, evaluateStack, GUARDRAILS, isUnknown, REGISTRY, type GuardedResource } from "../policy/rules";

const DIGEST = `dcshydroprod.azurecr.io/hydrology/dask@sha256:${"c".repeat(64)}`;

function registry(props: Record<string, unknown> = {}, protect = true): GuardedResource {
  return { type: REGISTRY, name: "registry-acr", props: { registryName: "dcshydroprod", adminUserEnabled: false, anonymousPullEnabled: false, tags: { environment: "prod" }, ...props }, protect };
}
function cluster(props: Record<string, unknown> = {}): GuardedResource {
  return {
    type: CLUSTER,
    name: "cluster-cluster",
    props: {
      dockerImage: { url: DIGEST, basicAuth: { username: "app-id", password: "[secret]" } },
      dataSecurityMode: "SINGLE_USER",
      sparkVersion: "16.4.x-scala2.12",
      autoterminationMinutes: 30,
      customTags: { team: "hydrology", costCenter: "HYD", environment: "prod" },
      initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init_script_dask.sh" } }],
      ...props,
    },
  };
}
const policiesOf = (resources: GuardedResource[], config = {}) => evaluateStack(resources, config).map((f) => f.policy).sort();

describe("each guardrail passes a sound stack and flags its violation", () => {
  it("a sound stack has no finding at all", () => expect(evaluateStack([registry(), cluster()])).toEqual([]));

  const cases: [policy: string, stack: () => GuardedResource[], enforcement: "mandatory" | "advisory", message: RegExp][] = [
    ["acr-admin-user-disabled", () => [registry({ adminUserEnabled: true }), cluster()], "mandatory", /enables the admin user/],
    ["acr-admin-user-dev-only", () => [registry({ adminUserEnabled: true, tags: { environment: "dev" } }, false), cluster({ customTags: { team: "t", costCenter: "c", environment: "dev" } })], "advisory", /dev registry .* admin user/],
    ["acr-anonymous-pull-disabled", () => [registry({ anonymousPullEnabled: true }), cluster()], "mandatory", /anonymous pull/],
    ["cluster-image-by-digest", () => [registry(), cluster({ dockerImage: { url: "dcshydroprod.azurecr.io/hydrology/dask:latest", basicAuth: { username: "u", password: "p" } } })], "mandatory", /not a digest reference/],
    ["cluster-image-from-stack-registry", () => [registry(), cluster({ dockerImage: { url: `elsewhere.azurecr.io/x@sha256:${"d".repeat(64)}`, basicAuth: { username: "u", password: "p" } } })], "mandatory", /pulls from elsewhere\.azurecr\.io, not from this stack's registry \(dcshydroprod\.azurecr\.io\)/],
    ["cluster-image-basic-auth", () => [registry(), cluster({ dockerImage: { url: DIGEST } })], "mandatory", /without basic auth \(username and password missing\)/],
    ["cluster-dedicated-access-mode", () => [registry(), cluster({ dataSecurityMode: "USER_ISOLATION" })], "mandatory", /USER_ISOLATION; custom containers need SINGLE_USER/],
    ["cluster-runtime-supports-containers", () => [registry(), cluster({ sparkVersion: "16.4.x-cpu-ml-scala2.12" })], "mandatory", /ML runtime/],
    ["cluster-auto-termination", () => [registry(), cluster({ autoterminationMinutes: 240 })], "mandatory", /above the 120-minute cap/],
    ["registry-protected-in-prod", () => [registry({}, false), cluster()], "mandatory", /not protected from deletion/],
    ["init-scripts-not-on-dbfs", () => [registry(), cluster({ initScripts: [{ dbfs: { destination: "dbfs:/dcs/prod/x.sh" } }] })], "advisory", /from DBFS \(dbfs:\/dcs\/prod\/x\.sh\)/],
    ["cluster-cost-tags", () => [registry(), cluster({ customTags: { team: "hydrology" } })], "advisory", /lacks cost tags: costCenter, environment/],
  ];

  it("covers every guardrail", () => expect(cases.map((c) => c[0]).sort()).toEqual(GUARDRAILS.map((g) => g.name).sort()));

  it.each(cases)("%s", (policy, stack, enforcement, message) => {
    const findings = evaluateStack(stack());
    expect(findings.map((f) => f.policy)).toEqual([policy]);
    expect(findings[0].enforcement).toBe(enforcement);
    expect(findings[0].message).toMatch(message);
  });
});

describe("edges of the rules", () => {
  it("accepts the other dedicated mode names and a Genomics runtime is refused", () => {
    expect(policiesOf([registry(), cluster({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED" })])).toEqual([]);
    expect(policiesOf([registry(), cluster({ sparkVersion: "16.4.x-hls-scala2.12" })])).toEqual(["cluster-runtime-supports-containers"]);
  });

  it("lets a longRunning cluster exceed the cap, but never run without auto-termination; the cap is configurable", () => {
    expect(policiesOf([registry(), cluster({ autoterminationMinutes: 480, customTags: { ...DEFAULT_CONFIG.costTags.reduce((a, t) => ({ ...a, [t]: "x" }), {}), longRunning: "true" } })])).toEqual([]);
    expect(policiesOf([registry(), cluster({ autoterminationMinutes: 0 })])).toEqual(["cluster-auto-termination"]);
    expect(policiesOf([registry(), cluster({ autoterminationMinutes: 90 })], { maxAutoterminationMinutes: 60 })).toEqual(["cluster-auto-termination"]);
  });

  it("needs no basic auth when the stack's registry is public, and flags an empty password", () => {
    expect(policiesOf([registry({ anonymousPullEnabled: true }), cluster({ dockerImage: { url: DIGEST } })])).toEqual(["acr-anonymous-pull-disabled"]);
    expect(evaluateStack([registry(), cluster({ dockerImage: { url: DIGEST, basicAuth: { username: "u", password: "" } } })])[0].message).toMatch(/\(password missing\)/);
  });

  it("protects whichever environments the config names", () => {
    expect(policiesOf([registry({ tags: { environment: "test" } }, false), cluster()])).toEqual([]);
    expect(policiesOf([registry({ tags: { environment: "test" } }, false), cluster()], { protectedEnvironments: ["prod", "test"] })).toEqual(["registry-protected-in-prod"]);
  });

  it("never flags values not known yet: undefined in a preview, or placeholders offline", () => {
    expect(isUnknown(undefined)).toBe(true);
    expect(isUnknown("(computed: image-image.repoDigest)")).toBe(true);
    const unknown = cluster({ dockerImage: { url: undefined, basicAuth: { username: "u", password: undefined } }, sparkVersion: undefined, dataSecurityMode: undefined });
    expect(evaluateStack([registry({ loginServer: undefined }), unknown])).toEqual([]);
    const placeholder = cluster({ dockerImage: { url: "(computed: image-image.repoDigest)", basicAuth: { username: "u", password: "[secret]" } }, customTags: "(computed: tags)" });
    expect(evaluateStack([registry(), placeholder])).toEqual([]);
  });

  it("reports exactly the expected violations for a deliberately bad stack", () => {
    const bad: GuardedResource[] = [
      registry({ adminUserEnabled: true, anonymousPullEnabled: true, tags: { environment: "prod" } }, false),
      cluster({
        dockerImage: { url: "docker.io/someone/dask:latest" },
        dataSecurityMode: "USER_ISOLATION",
        sparkVersion: "15.4.x-gpu-ml-scala2.12",
        autoterminationMinutes: 0,
        customTags: {},
        initScripts: [{ dbfs: { destination: "dbfs:/init.sh" } }],
      }),
    ];
    expect(evaluateStack(bad).map((f) => `${f.enforcement}:${f.policy}`).sort()).toEqual([
      "advisory:cluster-cost-tags",
      "advisory:init-scripts-not-on-dbfs",
      "mandatory:acr-admin-user-disabled",
      "mandatory:acr-anonymous-pull-disabled",
      "mandatory:cluster-auto-termination",
      "mandatory:cluster-dedicated-access-mode",
      "mandatory:cluster-image-by-digest",
      "mandatory:cluster-image-from-stack-registry",
      "mandatory:cluster-runtime-supports-containers",
      "mandatory:registry-protected-in-prod",
    ]);
  });
});
