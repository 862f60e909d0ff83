/**
 * The registry a first deployment needs before `pulumi up`, run for real
 * against the stand-in commands of test/helpers/ci-standins.ts:
 *
 * - rendering.js registry-targets: the target list computed from the real dev
 *   and prod renderings is the registry, its resource group and their
 *   component, closed under dependencies and parents;
 * - registry-login.sh: a first deployment in push mode dockerConfig creates the
 *   registry with a targeted `pulumi up` before `az acr login`; an existing
 *   registry is only logged in to; modes servicePrincipal and adminUser, and a
 *   stack without a registry, need neither.
 *
 * The login for a base image from the registry is in test/ci-build.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { calls } from "./helpers/ci-fakes";
import { ciSandbox, type Rendering, type Resource, TYPES, withoutBaseFromRegistry } from "./helpers/ci-standins";
import { ROOT } from "./helpers/record";

const { sandbox, fakes, runScript, render, renderedFile, tmpStack } = ciSandbox("dcs-ci-registry-");

// The URNs the engine gives, computed here independently of scripts/ci/rendering.js:
// the type is prefixed by the types of all parents below the root stack.

function engineUrns(rendering: Rendering): Map<string, string> {
  const byUrn = new Map(rendering.resources.map((r) => [r.urn, r]));
  const typeChain = (r: Resource): string => {
    const parent = r.parent ? byUrn.get(r.parent) : undefined;
    return !parent || parent.type === "pulumi:pulumi:Stack" ? r.type : `${typeChain(parent)}$${r.type}`;
  };
  return new Map(rendering.resources.map((r) => [r.urn, `urn:pulumi:${rendering.stack}::${rendering.project}::${typeChain(r)}::${r.name}`]));
}

function targetsOf(rendering: Rendering): string[] {
  const file = path.join(fs.mkdtempSync(path.join(sandbox, "targets-")), "r.json");
  fs.writeFileSync(file, JSON.stringify(rendering));
  const r = spawnSync("node", ["scripts/ci/rendering.js", "registry-targets", file], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter(Boolean);
}

/** Every dependency and parent of a targeted resource is targeted too, unless Pulumi targets it itself. */
function expectClosed(rendering: Rendering, targets: string[]): void {
  const engine = engineUrns(rendering);
  const byEngineUrn = new Map(rendering.resources.map((r) => [engine.get(r.urn)!, r]));
  const implicit = (urn: string) => {
    const r = rendering.resources.find((x) => x.urn === urn)!;
    return r.type === "pulumi:pulumi:Stack" || r.type.startsWith("pulumi:providers:");
  };
  for (const target of targets) {
    const r = byEngineUrn.get(target);
    expect(r, `${target} is a resource of the rendering`).toBeDefined();
    for (const needed of [...(r!.dependencies ?? []), ...(r!.parent ? [r!.parent] : [])]) {
      if (!implicit(needed)) expect(targets, `${target} needs ${needed}`).toContain(engine.get(needed));
    }
    // Each target comes after what it needs (the order the script passes them in).
    for (const dep of r!.dependencies ?? []) if (!implicit(dep)) expect(targets.indexOf(engine.get(dep)!)).toBeLessThan(targets.indexOf(target));
  }
}

describe("registry targets, from the real renderings", () => {
  const renderings: Record<string, Rendering> = {};
  beforeAll(() => {
    for (const stack of ["dev", "prod"]) renderings[stack] = JSON.parse(fs.readFileSync(renderedFile(stack), "utf8")) as Rendering;
  }, 120_000);

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: the registry, its resource group and their component; closed under dependencies and parents; nothing else`, () => {
      const rendering = renderings[stack];
      const targets = targetsOf(rendering);
      const engine = engineUrns(rendering);
      const urnOf = (type: string) => engine.get(rendering.resources.find((r) => r.type === type)!.urn)!;
      expect(targets).toContain(urnOf(TYPES.registry));
      expect(targets).toContain(urnOf(TYPES.group));
      // The engine's URNs: no root stack in the type, the component's type before its children's.
      expect(urnOf(TYPES.registry)).toBe(`urn:pulumi:${stack}::dcs-platform::dcs:index:ContainerRegistry$azure-native:containerregistry:Registry::registry-acr`);
      expect(targets).toContain(`urn:pulumi:${stack}::dcs-platform::dcs:index:ContainerRegistry::registry`);
      expect(targets.some((t) => t.includes("pulumi:pulumi:Stack") || t.includes("pulumi:providers:"))).toBe(false);
      expectClosed(rendering, targets);
      for (const type of [TYPES.image, TYPES.cluster, "azure-native:authorization:RoleAssignment"]) expect(targets).not.toContain(urnOf(type));
      expect(targets).toHaveLength(3);
    });
  }

  it("the closure check itself catches a target list missing a dependency or a parent", () => {
    const rendering = renderings.dev;
    const engine = engineUrns(rendering);
    const registry = engine.get(rendering.resources.find((r) => r.type === TYPES.registry)!.urn)!;
    const group = engine.get(rendering.resources.find((r) => r.type === TYPES.group)!.urn)!;
    expect(() => expectClosed(rendering, [registry])).toThrow();
    expect(() => expectClosed(rendering, [group, registry])).toThrow(/needs .*ContainerRegistry::registry/);
  });

  it("with an existing resource group: the registry and its component only", () => {
    const stack = tmpStack("dev", "existing-rg", (t) => t.replace("    name: rg-dcs-hydrology-dev\n", "    name: rg-dcs-hydrology-dev\n    existing: true\n"));
    const rendering = render(stack);
    expect(rendering.resources.some((r) => r.type === TYPES.group)).toBe(false);
    const targets = targetsOf(rendering);
    expect(targets).toEqual([`urn:pulumi:${stack}::dcs-platform::dcs:index:ContainerRegistry::registry`, `urn:pulumi:${stack}::dcs-platform::dcs:index:ContainerRegistry$azure-native:containerregistry:Registry::registry-acr`]);
    expectClosed(rendering, targets);
  });
});

describe("registry-login.sh", () => {
  it("first deployment in push mode dockerConfig: creates the registry with a targeted pulumi up, then logs Docker in", () => {
    const dir = fakes();
    const r = runScript("registry-login.sh", ["dev"], dir, { FAKE_ACR_SHOW_STATUS: "1" });
    expect(r.status, r.stderr).toBe(0);
    const made = calls(dir);
    expect(made.map((c) => c.slice(0, 3).join(" "))).toEqual(["az acr show", "pulumi up --yes", "az acr login"]);
    const up = calls(dir, "pulumi")[0];
    expect(up.slice(0, 6)).toEqual(["up", "--yes", "--stack", "dev", "--policy-pack", "policy"]);
    const targets = up.slice(6).filter((_, i) => i % 2 === 1);
    expect(up.slice(6).filter((_, i) => i % 2 === 0).every((flag) => flag === "--target")).toBe(true);
    const rendering = render("dev");
    expect(targets).toEqual(targetsOf(rendering));
    expectClosed(rendering, targets);
    expect(calls(dir, "az").at(-1)).toEqual(["acr", "login", "--name", "dcshydrologydev"]);
    expect(r.stdout).toContain("registry dcshydrologydev does not exist yet");
  });

  it("an existing registry: logs in and runs no pulumi", () => {
    const dir = fakes();
    const r = runScript("registry-login.sh", ["dev"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "pulumi")).toEqual([]);
    expect(calls(dir, "az")).toEqual([
      ["acr", "show", "--name", "dcshydrologydev", "--query", "id", "--output", "none"],
      ["acr", "login", "--name", "dcshydrologydev"],
    ]);
  });

  it("fails, without logging in, when the targeted pulumi up fails", () => {
    const dir = fakes();
    const r = runScript("registry-login.sh", ["dev"], dir, { FAKE_ACR_SHOW_STATUS: "1", FAKE_UP_STATUS: "255", DCS_RENDERING: renderedFile("dev") });
    expect(r.status).toBe(255);
    expect(calls(dir, "pulumi")).toHaveLength(1);
    expect(calls(dir, "az").map((c) => c.slice(0, 2).join(" "))).toEqual(["acr show"]);
  });

  it("a stack without push mode is in mode dockerConfig: its first deployment creates the registry too", () => {
    const stack = tmpStack("dev", "no-push", (t) => t.replace("    push:\n      mode: dockerConfig\n", ""));
    const dir = fakes();
    const r = runScript("registry-login.sh", [stack], dir, { FAKE_ACR_SHOW_STATUS: "1" });
    expect(r.status, r.stderr).toBe(0);
    const up = calls(dir, "pulumi")[0];
    expect(up.slice(0, 4)).toEqual(["up", "--yes", "--stack", stack]);
    expect(up).toContain(`urn:pulumi:${stack}::dcs-platform::dcs:index:ContainerRegistry$azure-native:containerregistry:Registry::registry-acr`);
    expect(calls(dir, "az").at(-1)).toEqual(["acr", "login", "--name", "dcshydrologydev"]);
  });

  it("push modes servicePrincipal (prod) and adminUser: the program gives Docker its credentials; no az, no pulumi", () => {
    const adminUser = tmpStack("dev", "admin-user", (t) => withoutBaseFromRegistry(t).replace("      mode: dockerConfig\n", "      mode: adminUser\n"));
    const prodFromHub = tmpStack("prod", "prod-hub", withoutBaseFromRegistry);
    for (const stack of [prodFromHub, adminUser]) {
      const dir = fakes();
      const r = runScript("registry-login.sh", [stack], dir, { FAKE_ACR_SHOW_STATUS: "1" });
      expect(r.status, r.stderr).toBe(0);
      expect(calls(dir), stack).toEqual([]);
      expect(r.stdout).toMatch(/pushes in mode (servicePrincipal|adminUser): pulumi up hands Docker those credentials itself/);
    }
  });

  it("a stack without a registry (a platform stack) needs nothing", () => {
    for (const stack of ["platform-dev", "platform-prod"]) {
      const dir = fakes();
      const r = runScript("registry-login.sh", [stack], dir, { FAKE_ACR_SHOW_STATUS: "1" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`stack ${stack} declares no registry; nothing to log in to`);
      expect(calls(dir)).toEqual([]);
    }
  });
});
