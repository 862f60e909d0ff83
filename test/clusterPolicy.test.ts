import * as databricks from "@pulumi/databricks";
import { describe, expect, it } from "vitest";
import {
  defaultPolicyName,
  imageUrlPattern,
  NON_BLANK_PATTERN,
  policyDefinition,
  policyFixedValues,
  SECRET_REFERENCE_PATTERN,
  TeamClusterPolicy,
  validatePolicyRules,
  validateTeamClusterPolicyArgs,
  type PolicyRules,
  type TeamClusterPolicyArgs,
} from "../components/clusterPolicy";
import { secretReference } from "../components/pullSecret";
import { RenderError } from "../stacks/render/engine";
import { one, providerUrn, recordResources } from "./helpers/record";

const POLICY = "databricks:index/clusterPolicy:ClusterPolicy";
const PERMISSIONS = "databricks:index/permissions:Permissions";
const COMPONENT = "dcs:index:TeamClusterPolicy";
const TEAM_HOST = "dcshydrologydev.azurecr.io";
const SHARED_HOST = "dcsplatformshared.azurecr.io";
const DIGEST = `sha256:${"3f".repeat(32)}`;

const RULES: PolicyRules = {
  registries: [TEAM_HOST, SHARED_HOST],
  sparkVersions: ["16.4.x-scala2.12", "15.4.x-scala2.12"],
  autotermination: { min: 10, max: 120, default: 30 },
  costTags: { team: "hydrology", costCenter: undefined },
};

/** A policy regex as Databricks applies it: the whole value must match (anchored at both ends). */
function asDatabricks(pattern: string): RegExp {
  return new RegExp(`^${pattern}$`);
}

function rules(overrides: Partial<PolicyRules>): PolicyRules {
  return { ...RULES, ...overrides };
}

function declare(args: Partial<TeamClusterPolicyArgs> = {}) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const p = new TeamClusterPolicy("hydrology", { team: "hydrology", groupName: "dcs-hydrology-users", rules: RULES, provider, ...args });
    return { policyId: p.policyId, policyName: p.policyName, definition: p.definition };
  };
}

describe("policyDefinition", () => {
  it("limits image, password, access mode, runtime, autotermination, cost tags and cluster types", () => {
    expect(policyDefinition(RULES)).toEqual({
      cluster_type: { type: "allowlist", values: ["all-purpose", "job"] },
      spark_version: { type: "allowlist", values: ["16.4.x-scala2.12", "15.4.x-scala2.12"], defaultValue: "16.4.x-scala2.12" },
      data_security_mode: { type: "allowlist", values: ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"], defaultValue: "SINGLE_USER" },
      "docker_image.url": { type: "regex", pattern: imageUrlPattern([TEAM_HOST, SHARED_HOST]) },
      "docker_image.basic_auth.password": { type: "regex", pattern: SECRET_REFERENCE_PATTERN },
      // Photon off: STANDARD, or unset (standard for a key without -photon-, and the keys are allowlisted).
      runtime_engine: { type: "allowlist", values: ["STANDARD"], isOptional: true },
      autotermination_minutes: { type: "range", minValue: 10, maxValue: 120, defaultValue: 30 },
      "custom_tags.team": { type: "fixed", value: "hydrology" },
      "custom_tags.costCenter": { type: "regex", pattern: NON_BLANK_PATTERN },
    });
    // No other rule is optional: a limiting rule makes its attribute required, which is the point here.
    expect(Object.entries(policyDefinition(RULES)).filter(([, r]) => JSON.stringify(r).includes("isOptional")).map(([k]) => k)).toEqual(["runtime_engine"]);
    // `kind` is not a documented policy path.
    expect(Object.keys(policyDefinition(RULES))).not.toContain("kind");
    // Serialises to JSON and back unchanged (what the resource carries).
    expect(JSON.parse(JSON.stringify(policyDefinition(RULES)))).toEqual(policyDefinition(RULES));
  });

  it("accepts images from the approved hosts only, by digest or tag", () => {
    const url = asDatabricks(imageUrlPattern(RULES.registries));
    const accepted = [
      `${TEAM_HOST}/hydrology/dask@${DIGEST}`,
      `${TEAM_HOST}/dcs-hydrology:16.4-lts-3f2a9c1b7d0e`,
      `${SHARED_HOST}/base/runtime@${DIGEST}`,
      `${SHARED_HOST}/base/runtime:16.4-LTS`,
      `${SHARED_HOST}/a/b/c_d.e__f:v1.2.3`,
      // Every repository of an approved registry: the GPU image's too.
      `${TEAM_HOST}/hydrology/dask-gpu@${DIGEST}`,
      `${TEAM_HOST}/hydrology/dask-gpu:16.4-lts-04a5f56206b0`,
      // Decision: tags are allowed, so a mutable tag is not refused by the policy (the program never sends one).
      `${TEAM_HOST}/hydrology/dask:latest`,
    ];
    for (const ref of accepted) expect(url.test(ref), ref).toBe(true);
    const refused = [
      "docker.io/library/ubuntu:22.04",
      "databricksruntime/standard:16.4-LTS",
      `otherteam.azurecr.io/hydrology/dask@${DIGEST}`,
      `${TEAM_HOST}.evil.com/hydrology/dask:1`, // starts with an approved host
      `evil.com/${TEAM_HOST}/hydrology/dask:1`, // contains an approved host
      "dcshydrologydevXazurecr.io/hydrology/dask:1", // the dots are escaped
      `x${TEAM_HOST}/hydrology/dask:1`,
      `https://${TEAM_HOST}/hydrology/dask:1`,
      `${TEAM_HOST}:443/hydrology/dask:1`,
      `${TEAM_HOST}/hydrology/dask`, // neither tag nor digest
      `${TEAM_HOST}/hydrology/dask@sha256:${"3f".repeat(31)}`, // short digest
      `${TEAM_HOST}/hydrology/dask@sha256:${"3F".repeat(32)}`, // digests are lowercase hex
      `${TEAM_HOST}/hydrology/dask@md5:${"3f".repeat(16)}`,
      `${TEAM_HOST}/hydrology/dask:1@${DIGEST}`, // tag and digest together: one or the other
      `${TEAM_HOST}/Hydrology/dask:1`, // repositories are lowercase
      `${TEAM_HOST}/hydrology/dask:-bad`,
      `${TEAM_HOST}//dask:1`,
    ];
    for (const ref of refused) expect(url.test(ref), ref).toBe(false);
    // One host works the same; the alternation is grouped, so both anchors bind every host.
    expect(asDatabricks(imageUrlPattern([TEAM_HOST])).test(`${SHARED_HOST}/base/runtime:1`)).toBe(false);
    expect(imageUrlPattern(RULES.registries).startsWith("(?:dcshydrologydev\\.azurecr\\.io|dcsplatformshared\\.azurecr\\.io)/")).toBe(true);
  });

  it("accepts a {{secrets/<scope>/<key>}} password reference and refuses anything else", () => {
    const password = asDatabricks(SECRET_REFERENCE_PATTERN);
    for (const ok of ["{{secrets/s/k}}", secretReference("dcs-hydrology-dev", "acr-pull"), "{{secrets/security.team/acr_pull.v2}}"]) expect(password.test(ok), ok).toBe(true);
    for (const bad of ["pull-client-SECRET-5d1c", "", "{{secrets/s}}", "{{secrets/s/k/x}}", "{{secrets/s/k}}x", "x{{secrets/s/k}}", "{{secret/s/k}}", "{secrets/s/k}", "{{secrets/a b/k}}"]) {
      expect(password.test(bad), bad).toBe(false);
    }
  });

  it("requires a non-blank value for a cost tag without a fixed value", () => {
    const tag = asDatabricks(NON_BLANK_PATTERN);
    expect(tag.test("CC-1234")).toBe(true);
    expect(tag.test(" CC 1234 ")).toBe(true);
    expect(tag.test("")).toBe(false);
    expect(tag.test("   ")).toBe(false);
  });

  it("gives the tags a cluster must set itself for the fixed rules", () => {
    expect(policyFixedValues(RULES)).toEqual({ team: "hydrology" });
    expect(policyFixedValues(rules({ costTags: { costCenter: undefined } }))).toEqual({});
    expect(defaultPolicyName("hydrology")).toBe("dcs-hydrology-custom-containers");
  });
});

describe("validatePolicyRules", () => {
  it("accepts the realistic rule set", () => {
    expect(validatePolicyRules(RULES)).toEqual([]);
  });

  it("refuses missing or malformed registries", () => {
    expect(validatePolicyRules(rules({ registries: [] }))).toEqual([expect.stringMatching(/at least one approved registry/)]);
    for (const host of ["https://dcs.azurecr.io", "dcs.azurecr.io/", "dcs.azurecr.io/team", "DCS.azurecr.io", "dcshydrologydev", "", "dcs..azurecr.io"]) {
      expect(validatePolicyRules(rules({ registries: [host] })), host).toEqual([expect.stringMatching(/is not a registry host/)]);
    }
    expect(validatePolicyRules(rules({ registries: ["registry.example.com:5000"] }))).toEqual([]);
    expect(validatePolicyRules(rules({ registries: [TEAM_HOST, TEAM_HOST] }))).toEqual([expect.stringMatching(/more than once/)]);
  });

  it("refuses ML, GPU and Genomics runtimes and malformed keys", () => {
    expect(validatePolicyRules(rules({ sparkVersions: [] }))).toEqual([expect.stringMatching(/at least one runtime/)]);
    expect(validatePolicyRules(rules({ sparkVersions: ["16.4.x-cpu-ml-scala2.12"] }))).toEqual([expect.stringMatching(/ML runtimes/)]);
    expect(validatePolicyRules(rules({ sparkVersions: ["16.4.x-gpu-ml-scala2.12"] }))).toEqual([expect.stringMatching(/ML runtimes/)]);
    expect(validatePolicyRules(rules({ sparkVersions: ["10.4.x-hls-scala2.12"] }))).toEqual([expect.stringMatching(/Genomics/)]);
    expect(validatePolicyRules(rules({ sparkVersions: ["16.4-LTS"] }))).toEqual([expect.stringMatching(/not a runtime key/)]);
    expect(validatePolicyRules(rules({ sparkVersions: ["16.4.x-photon-scala2.12"] }))).toEqual([expect.stringMatching(/runs Photon, which the policy keeps off/)]);
  });

  it("refuses autotermination ranges Databricks or the team should not have", () => {
    const auto = (min: number, max: number, def: number) => validatePolicyRules(rules({ autotermination: { min, max, default: def } }));
    expect(auto(60, 30, 45)).toEqual([expect.stringMatching(/min 60 is above autotermination.max 30/)]);
    expect(auto(10, 120, 5)).toEqual([expect.stringMatching(/default 5 is outside 10..120/)]);
    expect(auto(10, 120, 121)).toEqual([expect.stringMatching(/default 121 is outside/)]);
    expect(auto(0, 120, 30)).toEqual([expect.stringMatching(/below 10 minutes/)]);
    expect(auto(10, 20000, 30)).toEqual([expect.stringMatching(/above 10000 minutes/)]);
    expect(auto(10, 120, 30.5)).toEqual([expect.stringMatching(/whole number/)]);
    expect(auto(10, 10, 10)).toEqual([]);
  });

  it("refuses reserved, empty or unusable cost tags and blank fixed values", () => {
    expect(validatePolicyRules(rules({ costTags: { ClusterName: "x" } }))).toEqual([expect.stringMatching(/"ClusterName" is reserved/)]);
    expect(validatePolicyRules(rules({ costTags: { vendor: undefined } }))).toEqual([expect.stringMatching(/"vendor" is reserved/)]);
    expect(validatePolicyRules(rules({ costTags: { " ": "x" } }))).toEqual([expect.stringMatching(/empty name/)]);
    expect(validatePolicyRules(rules({ costTags: { "cost/center": "x" } }))).toEqual([expect.stringMatching(/Azure refuses/)]);
    expect(validatePolicyRules(rules({ costTags: { team: " " } }))).toEqual([expect.stringMatching(/blank fixed value/)]);
  });

  it("lists every problem at once, and checks the component's own arguments", () => {
    expect(validatePolicyRules({ registries: [], sparkVersions: [], autotermination: { min: 30, max: 10, default: 20 }, costTags: {} })).toHaveLength(3);
    const base = { team: "hydrology", groupName: "g", rules: RULES };
    expect(validateTeamClusterPolicyArgs(base)).toEqual([]);
    expect(validateTeamClusterPolicyArgs({ ...base, team: " ", groupName: "" })).toEqual([expect.stringMatching(/team is empty/), expect.stringMatching(/groupName is empty/)]);
    expect(validateTeamClusterPolicyArgs({ ...base, policyName: "p".repeat(101) })).toEqual([expect.stringMatching(/1 to 100 characters/)]);
  });
});

describe("TeamClusterPolicy", () => {
  it("declares the policy with its definition and CAN_USE for the team's group, both through the given provider", async () => {
    const r = await recordResources(declare());
    const component = one(r, COMPONENT);
    const provider = one(r, "pulumi:providers:databricks");
    const policy = one(r, POLICY);
    expect(policy.inputs.name).toBe("dcs-hydrology-custom-containers");
    expect(policy.inputs.description).toMatch(/team hydrology/);
    expect(JSON.parse(String(policy.inputs.definition))).toEqual(policyDefinition(RULES));
    expect(policy.inputs.policyFamilyId).toBeUndefined(); // a definition of its own, not a family's

    const grant = one(r, PERMISSIONS);
    expect(grant.inputs.clusterPolicyId).toBe("hydrology-policy-id"); // the policy's id (the recorder's stand-in)
    expect(grant.inputs.accessControls).toEqual([{ groupName: "dcs-hydrology-users", permissionLevel: "CAN_USE" }]);
    expect(grant.dependencies).toContain(policy.urn);

    for (const res of [policy, grant]) {
      expect(res.parent, res.name).toBe(component.urn);
      expect(providerUrn(res), res.name).toBe(provider.urn);
    }
    expect(r.outputs).toEqual({ policyId: "hydrology-policy-id", policyName: "dcs-hydrology-custom-containers", definition: policyDefinition(RULES) });
  });

  it("takes a policy name", async () => {
    const r = await recordResources(declare({ policyName: "Hydrology containers" }));
    expect(one(r, POLICY).inputs.name).toBe("Hydrology containers");
  });

  it("declares nothing on bad input", async () => {
    const err = await recordResources(declare({ rules: rules({ registries: ["https://evil.example.com"], sparkVersions: ["16.4.x-gpu-ml-scala2.12"] }) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).message).toMatch(/TeamClusterPolicy "hydrology": registry .* is not a registry host.*; runtime 16\.4\.x-gpu-ml-scala2\.12: ML runtimes/);
    const declared = (err as RenderError).recorded.map((x) => x.type);
    for (const type of [COMPONENT, POLICY, PERMISSIONS]) expect(declared).not.toContain(type);
  });
});

describe("a policy per kind of compute", () => {
  const rules = { registries: ["dcshydrologydev.azurecr.io"], sparkVersions: ["16.4.x-scala2.12"], autotermination: { min: 10, max: 120, default: 30 }, costTags: { team: "hydrology" } };
  it("fixes the cluster type, and leaves auto-termination out of the job-cluster policy (a job's cluster cannot send it)", () => {
    const jobs = policyDefinition({ ...rules, clusterType: "job" });
    expect(jobs.cluster_type).toEqual({ type: "fixed", value: "job" });
    expect(jobs).not.toHaveProperty("autotermination_minutes");
    const interactive = policyDefinition({ ...rules, clusterType: "all-purpose" });
    expect(interactive.cluster_type).toEqual({ type: "fixed", value: "all-purpose" });
    expect(interactive.autotermination_minutes).toMatchObject({ type: "range", minValue: 10, maxValue: 120 });
  });
});
