/**
 * The CrossGuard wiring of the dcs-guardrails rules (policy/crossguard.ts),
 * without starting the pack: the policies CrossGuard is handed, driven with
 * `@pulumi/policy`'s own unknown-checking proxy.
 */
import { describe, expect, it } from "vitest";
import type { ResourceValidation, StackValidation } from "@pulumi/policy";
import { configSchemaOf, crossGuardPolicies, plainProps } from "../policy/crossguard";
import { CLUSTER, GUARDRAILS, type StackResource } from "../policy/rules";
import { AUTH, cluster, crossGuardPolicy as byName, DIGEST, job, pool, registry, resourceArgs, UNKNOWN_STRING, unknownCheckingProxy, urn } from "./helpers/policy";

describe("the CrossGuard policies (policy/crossguard.ts)", () => {
  const all = crossGuardPolicies();

  it("are the guardrails, in order, with their levels, remediation and settings", () => {
    expect(all.map((p) => [p.name, p.enforcementLevel])).toEqual(GUARDRAILS.map((g) => [g.name, g.enforcement]));
    for (const g of GUARDRAILS) {
      const p = byName(g.name);
      expect(p.description).toBe(g.description);
      expect(p.remediationSteps).toBe(g.remediation);
      expect(typeof (g.scope === "stack" ? p.validateStack : p.validateResource)).toBe("function");
      expect(Object.keys(p.configSchema?.properties ?? {})).toEqual(g.configKeys);
    }
    expect(configSchemaOf(GUARDRAILS.find((g) => g.name === "cluster-auto-termination")!)?.properties.maxAutoterminationMinutes).toMatchObject({ type: "integer", default: 120 });
  });

  const run = (policy: string, r: StackResource, config: Record<string, unknown> = {}) => {
    const reports: string[] = [];
    // Only the fields the wiring reads are given; the cast stands in for the rest of the args.
    const validate = byName(policy).validateResource as ResourceValidation;
    void validate(resourceArgs(r, config) as never, (m) => reports.push(m));
    return reports;
  };

  it("validate a resource behind @pulumi/policy's unknown-checking proxy, with the policy's config", () => {
    expect(run("cluster-auto-termination", cluster({ autoterminationMinutes: 90 }))).toEqual([]);
    expect(run("cluster-auto-termination", cluster({ autoterminationMinutes: 90 }), { maxAutoterminationMinutes: 60 })).toHaveLength(1);
    expect(run("registry-protected-in-prod", registry({}, false))).toHaveLength(1);
    expect(run("registry-protected-in-prod", registry({}, true))).toEqual([]);
  });

  it("read past unknowns instead of throwing, and an unset property is absent", () => {
    const u = UNKNOWN_STRING;
    const unknown = cluster({ dockerImage: { url: u, basicAuth: { username: u, password: u } }, dataSecurityMode: u, sparkVersion: u, autoterminationMinutes: u, customTags: u });
    for (const g of GUARDRAILS.filter((x) => x.scope === "resource")) expect(run(g.name, unknown)).toEqual([]);
    expect(() => (unknownCheckingProxy(unknown.props) as Record<string, unknown>).dataSecurityMode).toThrow(/can't be known during preview/);
    expect(plainProps(unknownCheckingProxy(unknown.props))).toEqual(unknown.props);
    expect(run("cluster-dedicated-access-mode", cluster({ dataSecurityMode: undefined }))).toHaveLength(1);
  });

  it("validate jobs and pools behind the unknown-checking proxy", () => {
    expect(GUARDRAILS.filter((g) => g.scope === "resource").flatMap((g) => [...run(g.name, job()), ...run(g.name, pool())])).toEqual([]);
    expect(run("cluster-dedicated-access-mode", job({}, { dataSecurityMode: undefined }))).toEqual([expect.stringMatching(/^job job-nightly, task smoke sets no dataSecurityMode/)]);
    expect(run("cluster-pull-secret-by-reference", pool({ preloadedDockerImages: [{ url: DIGEST, basicAuth: { username: "u", password: "raw" } }] }))).toHaveLength(1);
    const u = UNKNOWN_STRING;
    const unknown = job({ tasks: [{ taskKey: "smoke", newCluster: { dockerImage: { url: u, basicAuth: { username: u, password: u } }, dataSecurityMode: u, sparkVersion: u, customTags: u, initScripts: u } }] });
    for (const g of GUARDRAILS.filter((x) => x.scope === "resource")) expect(run(g.name, unknown)).toEqual([]);
  });

  it("validate the stack, reporting each violation against its resource's URN", () => {
    const reports: [string, string | undefined][] = [];
    const stack = [registry({ anonymousPullEnabled: UNKNOWN_STRING }), cluster({ dockerImage: { url: `elsewhere.io/x@sha256:${"e".repeat(64)}` } }), cluster({ dockerImage: { url: UNKNOWN_STRING } })];
    stack[2].name = "other-cluster";
    stack[2].urn = urn("prod", CLUSTER, "other-cluster");
    const args = { resources: stack.map((r) => resourceArgs(r)), getConfig: () => ({}) };
    for (const name of ["cluster-image-from-stack-registry", "cluster-image-basic-auth"]) {
      const validate: StackValidation = byName(name).validateStack;
      void validate(args as never, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([[expect.stringMatching(/pulls its image from elsewhere\.io/), stack[1].urn]]);
  });

  it("validate a stack's jobs and pools, reporting against the job's and the pool's URN", () => {
    const reports: [string, string | undefined][] = [];
    const foreign = `elsewhere.io/x@sha256:${"e".repeat(64)}`;
    const stack = [registry(), job({}, { dockerImage: { url: foreign, basicAuth: AUTH } }), pool({ preloadedDockerImages: [{ url: foreign, basicAuth: AUTH }] })];
    const args = { resources: stack.map((r) => resourceArgs(r)), getConfig: () => ({}) };
    for (const name of ["cluster-image-pinned", "cluster-image-from-stack-registry", "cluster-image-basic-auth"]) {
      const validate: StackValidation = byName(name).validateStack;
      void validate(args as never, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([
      [expect.stringMatching(/^job job-nightly, task smoke pulls its image from elsewhere\.io/), stack[1].urn],
      [expect.stringMatching(/^pool pool-d4 preloads an image from elsewhere\.io/), stack[2].urn],
    ]);
  });
});
