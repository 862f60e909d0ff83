/**
 * The deployment scripts of scripts/ci that run around `pulumi up`, run for
 * real against fake `pulumi`, `az`, `docker` and `databricks` commands on PATH
 * that record how they were called and answer from files the test writes:
 *
 * - import-base.sh: the base imported into the stack's registry once (by tag,
 *   or by the pinned digest, with --force only when the tag differs), and
 *   registry-login.sh creating the registry first for that in any push mode;
 * - preview-change.sh: the change recorded before the approval, any other
 *   change refused after it, drift reported; change.js's fingerprint;
 * - outputs-summary.sh: the outputs as a table, secrets kept hidden;
 * - registry-login.sh: a first deployment in push mode dockerConfig creates the
 *   registry with a targeted `pulumi up` before `az acr login`; the target list
 *   computed from the real dev and prod renderings is closed under
 *   dependencies and parents;
 * - smoke-build.sh: `docker build` gets exactly the rendering's context,
 *   Dockerfile, platform and build arguments, then the smoke test runs;
 * - check-clusters.sh: snapshot before and verify after `pulumi up`, against
 *   scripted cluster states;
 * - run-smoke-job.sh: the stack's smoke job run after the deployment, against
 *   scripted runs: success, failure with the task's error and output tail,
 *   no such job, CLI failures, the timeout (issue 13, item 5);
 * - lib.sh's stack_workspace and backend_url: a team stack's workspace and
 *   state backend are its platform stack's (dcs:platform.stack), from the
 *   platform stack's file in the repository, or from its deployed outputs when
 *   it is kept elsewhere.
 *
 * The image scripts here run with prod, which builds one image, and show that
 * such a stack behaves as before; dev's two images (the default and a GPU one)
 * are in test/ci-images.test.ts.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { calls, dockerArgv, installFakes, renderedFile as renderedFileOf, renderWithCli, runCiScript } from "./helpers/ci-fakes";
import { ROOT } from "./helpers/record";

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-ci-"));
afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));

type Obj = Record<string, unknown>;
interface Resource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  dependencies?: string[];
  inputs: Obj;
}
interface Rendering {
  stack: string;
  project: string;
  resources: Resource[];
}

// ---------------------------------------------------------------------------
// Fakes. Every fake appends one line per call to $FAKE_DIR/calls: its name and
// its arguments, tab-separated, so tests see the order across commands.

const FAKE_PULUMI = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'pulumi\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
case "$1" in
  stack)
    if [[ -n "\${FAKE_OUTPUTS_FAIL:-}" ]]; then echo "error: no stack named '$5' found" >&2; exit 255; fi
    # \`pulumi stack output NAME\` of an output the stack lacks: the Pulumi CLI's own error.
    if [[ -n "\${FAKE_NO_OUTPUT:-}" ]]; then echo "error: current stack does not have output property '$3'" >&2; exit 255; fi
    cat "$FAKE_DIR/outputs.json" ;;
  up) exit "\${FAKE_UP_STATUS:-0}" ;;
  preview)
    cat "$FAKE_DIR/preview.json" 2>/dev/null
    echo "preview stderr" >&2
    exit "\${FAKE_PREVIEW_STATUS:-0}" ;;
esac
`;

const FAKE_AZ = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'az\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
case "$1 $2" in
  "acr show") exit "\${FAKE_ACR_SHOW_STATUS:-0}" ;;
  "acr repository")
    [[ -f "$FAKE_DIR/repo-digest" ]] || { echo "ERROR: manifest unknown" >&2; exit 1; }
    cat "$FAKE_DIR/repo-digest" ;;
  "acr import")
    [[ -z "\${FAKE_IMPORTED_DIGEST:-}" ]] || echo "$FAKE_IMPORTED_DIGEST" >"$FAKE_DIR/repo-digest" ;;
esac
`;

// docker: also writes each call's arguments NUL-separated to $FAKE_DIR/docker.argv
// (one call per record, records end with a newline), so tests compare them byte for byte.
const FAKE_DOCKER = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'docker\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
{ printf '%s\\0' "$@"; printf '\\n'; } >>"$FAKE_DIR/docker.argv"
case "$1" in
  build) exit "\${FAKE_BUILD_STATUS:-0}" ;;
  image)
    case "$*" in
      *Architecture*) echo "\${FAKE_PLATFORM:-linux/amd64}" ;;
      *'"solution"'*) echo xkp ;;
      *image.title*) echo "stand-in" ;;
      *dcs.cuda.version*) echo "\${FAKE_CUDA_LABEL:-12.6.3}" ;;
      *) echo "" ;;
    esac ;;
esac
exit 0
`;

// databricks: \`clusters get ID\` prints the next line of $FAKE_DIR/<ID>.seq (the
// last one again once they are used up); \`api post .../clusters/events\` prints
// $FAKE_DIR/<ID>.events. \`jobs run-now JOB_ID\` prints $FAKE_DIR/run-now.json
// (fails with $FAKE_RUN_NOW_ERROR); \`jobs get-run RUN_ID\` the next line of
// $FAKE_DIR/run-<RUN_ID>.seq (fails while $FAKE_GET_RUN_ERROR is set);
// \`jobs get-run-output RUN_ID\` $FAKE_DIR/output-<RUN_ID>.json (fails without it);
// \`jobs cancel-run\` succeeds. Records the workspace it was given.
const FAKE_DATABRICKS = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'databricks\\t%s\\thost=%s\\tresource=%s\\tauth=%s\\n' "$*" "\${DATABRICKS_HOST:-}" "\${DATABRICKS_AZURE_RESOURCE_ID:-}" "\${DATABRICKS_AUTH_TYPE:-}") >>"$FAKE_DIR/calls"
case "$1 $2" in
  "clusters get")
    seq="$FAKE_DIR/$3.seq"
    [[ -f "$seq" ]] || { echo "Error: Cluster $3 does not exist" >&2; exit 1; }
    n="$(cat "$seq.n" 2>/dev/null || echo 0)"
    total="$(wc -l <"$seq")"
    line=$((n < total ? n + 1 : total))
    echo $((n + 1)) >"$seq.n"
    sed -n "\${line}p" "$seq" ;;
  "api post")
    [[ "$*" =~ \\"cluster_id\\":\\"([^\\"]+)\\" ]] || exit 2
    cat "$FAKE_DIR/\${BASH_REMATCH[1]}.events" 2>/dev/null || echo '{"events":[]}' ;;
  "jobs run-now")
    if [[ -n "\${FAKE_RUN_NOW_ERROR:-}" ]]; then echo "$FAKE_RUN_NOW_ERROR" >&2; exit 1; fi
    cat "$FAKE_DIR/run-now.json" ;;
  "jobs get-run")
    if [[ -n "\${FAKE_GET_RUN_ERROR:-}" ]]; then echo "$FAKE_GET_RUN_ERROR" >&2; exit 1; fi
    seq="$FAKE_DIR/run-$3.seq"
    [[ -f "$seq" ]] || { echo "Error: Run $3 does not exist." >&2; exit 1; }
    n="$(cat "$seq.n" 2>/dev/null || echo 0)"
    total="$(wc -l <"$seq")"
    line=$((n < total ? n + 1 : total))
    echo $((n + 1)) >"$seq.n"
    sed -n "\${line}p" "$seq" ;;
  "jobs get-run-output")
    cat "$FAKE_DIR/output-$3.json" 2>/dev/null || { echo "Error: Run output of $3 is not available." >&2; exit 1; } ;;
  "jobs cancel-run") ;;
  *) exit 3 ;;
esac
`;

/** A fresh directory with the fakes on PATH and a log of the calls. */
const fakes = () => installFakes(sandbox, { pulumi: FAKE_PULUMI, az: FAKE_AZ, docker: FAKE_DOCKER, databricks: FAKE_DATABRICKS });

const runScript = (script: string, args: string[], dir: string, env: Record<string, string> = {}) => runCiScript(sandbox, script, args, dir, env);

const render = (stack: string) => renderWithCli(sandbox, stack);
const renderedFile = (stack: string) => renderedFileOf(sandbox, stack);

/** A stack file's text without any committed `baseFromRegistry: true` (and its comment): every base from Docker Hub. */
const withoutBaseFromRegistry = (t: string) => t.replace(/( +# [^\n]*\n)*( +)baseFromRegistry: true\n/g, "");

/** A temporary Pulumi.<name>.yaml made from a committed one; removed after the suite. */
const tmpStacks: string[] = [];
afterAll(() => tmpStacks.forEach((f) => fs.rmSync(f, { force: true })));
function tmpStack(from: string, suffix: string, edit: (text: string) => string): string {
  const name = `tmp-${process.pid}-ci-${suffix}`;
  const file = path.join(ROOT, `Pulumi.${name}.yaml`);
  const text = edit(fs.readFileSync(path.join(ROOT, `Pulumi.${from}.yaml`), "utf8")).replace(/^config:\n/m, `config:\n  dcs:environment: ${from}\n`);
  fs.writeFileSync(file, text);
  tmpStacks.push(file);
  return name;
}

// ---------------------------------------------------------------------------
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

const TYPES = {
  registry: "azure-native:containerregistry:Registry",
  group: "azure-native:resources:ResourceGroup",
  image: "docker:index/image:Image",
  cluster: "databricks:index/cluster:Cluster",
};

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

// ---------------------------------------------------------------------------


/** The docker build the rendering declares for its single image, built here from its inputs. */
function expectedBuild(rendering: Rendering): string[] {
  const images = rendering.resources.filter((r) => r.type === TYPES.image);
  expect(images).toHaveLength(1);
  const build = images[0].inputs.build as { context: string; dockerfile: string; platform: string; args: Record<string, string> };
  expect(Object.keys(build.args).length).toBeGreaterThanOrEqual(5);
  const args = Object.keys(build.args)
    .sort()
    .flatMap((k) => ["--build-arg", `${k}=${build.args[k]}`]);
  return ["build", "--platform", build.platform, "-f", build.dockerfile, ...args, "-t", "dcs-smoke:ci", build.context];
}

describe("smoke-build.sh", () => {
  it("builds with exactly the rendering's context, Dockerfile, platform and build arguments, then smoke-tests that image (prod: one image; dev's two: test/ci-images.test.ts)", () => {
    const dir = fakes();
    const r = runScript("smoke-build.sh", ["prod"], dir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const argv = dockerArgv(dir);
    const rendering = render("prod");
    expect(argv[0]).toEqual(expectedBuild(rendering));
    const build = rendering.resources.find((x) => x.type === TYPES.image)!.inputs.build as { args: Record<string, string>; context: string };
    // Prod builds from its registry's base, with the inline-cache argument that writes the build cache.
    expect(Object.keys(build.args).sort()).toEqual(["BASE_IMAGE", "BUILDKIT_INLINE_CACHE", "IMAGE_REVISION", "IMAGE_SOURCE", "IMAGE_VERSION", "RUNTIME_TAG"]);
    expect(build.context).toBe("infra/image");
    // Then the smoke test, on that image, without building again.
    const rest = argv.slice(1);
    expect(rest.length).toBeGreaterThan(2);
    expect(rest.some((a) => a[0] === "build")).toBe(false);
    expect(rest.every((a) => a.includes("dcs-smoke:ci"))).toBe(true);
    expect(r.stdout).toContain("smoke-test: dcs-smoke:ci passed");
  });

  it("follows the stack's configuration: another source and runtime give other build arguments", () => {
    const stack = tmpStack("prod", "other-image", (t) =>
      withoutBaseFromRegistry(t)
        .replace("    runtime: 16.4-LTS\n", "    runtime: 15.4-LTS\n")
        .replace("    sparkVersion: 16.4.x-scala2.12\n", "    sparkVersion: 15.4.x-scala2.12\n")
        .replace("    source: https://github.com/hydrology/dcs-platform\n", "    source: https://example.org/fork/dcs-platform\n"),
    );
    const dir = fakes();
    const r = runScript("smoke-build.sh", [stack], dir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const build = dockerArgv(dir)[0];
    expect(build).toEqual(expectedBuild(render(stack)));
    expect(build).toContain("RUNTIME_TAG=15.4-LTS");
    expect(build).toContain("BASE_IMAGE=databricksruntime/standard:15.4-LTS");
    expect(build).toContain("IMAGE_SOURCE=https://example.org/fork/dcs-platform");
  });

  it("fails when the build fails, and then runs no smoke test", () => {
    const dir = fakes();
    const r = runScript("smoke-build.sh", ["prod"], dir, { FAKE_BUILD_STATUS: "1", DCS_RENDERING: renderedFile("prod") });
    expect(r.status).toBe(1);
    expect(dockerArgv(dir).map((a) => a[0])).toEqual(["build"]);
  });

  it("fails when the smoke test fails", () => {
    const dir = fakes();
    const r = runScript("smoke-build.sh", ["prod"], dir, { FAKE_PLATFORM: "linux/arm64", DCS_RENDERING: renderedFile("prod") });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("FAIL  platform is linux/amd64 (got linux/arm64)");
  });

  it("reuses a rendering of the same stack from DCS_RENDERING, and renders anew for another stack", () => {
    const prod = renderedFile("prod");
    const doctored = path.join(path.dirname(prod), "doctored.json");
    const doc = JSON.parse(fs.readFileSync(prod, "utf8"));
    doc.resources.find((x: Resource) => x.type === TYPES.image).inputs.build.args.IMAGE_SOURCE = "from-the-given-rendering";
    fs.writeFileSync(doctored, JSON.stringify(doc));
    const reused = fakes();
    expect(runScript("smoke-build.sh", ["prod"], reused, { DCS_RENDERING: doctored }).status).toBe(0);
    expect(dockerArgv(reused)[0]).toContain("IMAGE_SOURCE=from-the-given-rendering");
    const other = fakes();
    expect(runScript("smoke-build.sh", ["dev"], other, { DCS_RENDERING: doctored }).status).toBe(0);
    expect(dockerArgv(other)[0].join(" ")).not.toContain("from-the-given-rendering");
  });

  it("builds nothing for a stack without an image (a platform stack)", () => {
    const dir = fakes();
    const r = runScript("smoke-build.sh", ["platform-dev"], dir, { DCS_RENDERING: renderedFile("platform-dev") });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("stack platform-dev declares no image; nothing to build");
    expect(calls(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------

const SECRETS = ["pw-SECRET-0c1d", "env-SECRET-77ab", "attr-SECRET-9f3e"];

/** A `databricks clusters get -o json` answer. `spec` picks one of two specs. */
function cluster(id: string, state: string, opts: { spec?: "a" | "b"; code?: string; message?: string } = {}): string {
  const spec = opts.spec ?? "a";
  return JSON.stringify({
    cluster_id: id,
    cluster_name: `hydrology-dask-${id}`,
    state,
    spark_version: "16.4.x-scala2.12",
    docker_image: { url: `dcshydrologydev.azurecr.io/hydrology/dask@sha256:${spec === "a" ? "aaaa" : "bbbb"}`, basic_auth: { username: "3f6c1f1e", password: SECRETS[0] } },
    spark_env_vars: { DCS_DASK_SCHEDULER_PORT: "8786", TOKENISH: SECRETS[1] },
    node_type_id: "Standard_D4ds_v5",
    autoscale: { min_workers: 1, max_workers: spec === "a" ? 3 : 3 },
    ...(opts.code ? { termination_reason: { code: opts.code, type: "CLIENT_ERROR", parameters: { databricks_error_message: opts.message ?? "" } } } : {}),
  });
}

interface Scenario {
  /** The stack's outputs before and after the deployment. */
  before: Obj;
  after?: Obj;
  /** Per cluster id: the answers of `clusters get`, the first one for the snapshot. */
  states: Record<string, string[]>;
  events?: Record<string, Obj>;
  stack?: string;
  env?: Record<string, string>;
}

function scenario(s: Scenario) {
  const dir = fakes();
  for (const [id, answers] of Object.entries(s.states)) fs.writeFileSync(path.join(dir, `${id}.seq`), answers.map((a) => `${a}\n`).join(""));
  for (const [id, events] of Object.entries(s.events ?? {})) fs.writeFileSync(path.join(dir, `${id}.events`), JSON.stringify(events));
  const stack = s.stack ?? "dev";
  const file = path.join(dir, "snapshot", "clusters.tsv");
  const env = { DCS_CHECK_INTERVAL_SECONDS: "0", DCS_CHECK_TIMEOUT_SECONDS: "30", DATABRICKS_AUTH_TYPE: "azure-cli", ...s.env };
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.before));
  const snapshot = runScript("check-clusters.sh", ["snapshot", stack, file], dir, env);
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.after ?? s.before));
  const verify = runScript("check-clusters.sh", ["verify", stack, file], dir, env);
  const text = `${snapshot.stdout}${snapshot.stderr}${verify.stdout}${verify.stderr}${fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""}`;
  for (const secret of SECRETS) expect(text, "no secret is ever printed or recorded").not.toContain(secret);
  return { dir, snapshot, verify, file, gets: (id: string) => calls(dir, "databricks").filter((c) => c[0] === "clusters" && c[2] === id).length };
}

const EVENT = {
  events: [{ timestamp: 1733050000000, type: "TERMINATING", details: { reason: { code: "DOCKER_IMAGE_PULL_FAILURE", type: "CLIENT_ERROR" }, attributes: { spark_env_vars: { X: SECRETS[2] } } } }],
  next_page: { cluster_id: "x", offset: 1 },
  total_count: 40,
};

describe("check-clusters.sh", () => {
  it("RUNNING, edited, RESTARTING, RUNNING: passes, saying the spec changed and the state reached", () => {
    const id = "0101-000000-run";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" })] } });
    expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
    expect(s.snapshot.stdout).toContain(`hydrology-dask-${id} (${id}, output clusterId) before pulumi up: RUNNING`);
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    expect(s.verify.stdout).toContain(`ok    hydrology-dask-${id} (${id}, output clusterId): spec changed; was RUNNING, now RUNNING through RESTARTING`);
    expect(s.gets(id)).toBe(4);
  });

  it("RUNNING, edited, and still RUNNING at first: waits for the restart to be seen before it passes", () => {
    const id = "0101-000000-slow";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" })] } });
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    // The old run first, then the restart, then the new run.
    expect(s.verify.stdout).toContain("spec changed; was RUNNING, now RUNNING through RUNNING RESTARTING");
    expect(s.gets(id)).toBe(5);
  });

  it("RUNNING, edited, restarted before the check began: a RUNNING event since the snapshot counts", () => {
    const id = "0101-000000-fast";
    const events = { events: [{ timestamp: Date.now() + 60_000, type: "RUNNING", details: {} }] };
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" })] }, events: { [id]: events } });
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    const since = calls(s.dir, "databricks").find((c) => c[0] === "api" && c.join(" ").includes('"event_types":["RUNNING"]'));
    expect(since?.join(" ")).toMatch(/"start_time":\d{13}/);
  });

  it("RUNNING, edited, and never restarting: fails at the timeout instead of passing on the old run", () => {
    const id = "0101-000000-stuck";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" })] },
      env: { DCS_CHECK_TIMEOUT_SECONDS: "1", DCS_CHECK_INTERVAL_SECONDS: "0.05" },
    });
    expect(s.verify.status).toBe(1);
    expect(s.verify.stdout).toMatch(/FAIL .*spec changed; was RUNNING, still RUNNING/);
  });

  it("RUNNING, edited, TERMINATED: fails naming the termination code and the latest event", () => {
    const id = "0101-000000-dead";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "TERMINATED", { spec: "b", code: "DOCKER_IMAGE_PULL_FAILURE", message: "Failed to pull\timage: unauthorized" })] },
      events: { [id]: EVENT },
    });
    expect(s.verify.status).toBe(1);
    const line = s.verify.stdout.split("\n").find((l) => l.includes("FAIL"))!;
    expect(line).toContain(`FAIL  hydrology-dask-${id} (${id}, output clusterId): spec changed; was RUNNING, ended TERMINATED through RESTARTING`);
    expect(line).toContain("termination reason: DOCKER_IMAGE_PULL_FAILURE (Failed to pull image: unauthorized)");
    expect(line).toContain('latest event: TERMINATING at 2024-12-01T10:46:40.000Z (reason={"code":"DOCKER_IMAGE_PULL_FAILURE","type":"CLIENT_ERROR"})');
    // The latest event: one page of one event, newest first (clusters events would walk every page).
    const events = calls(s.dir, "databricks").filter((c) => c[0] === "api");
    expect(events.map((c) => c.slice(0, 5))).toEqual([["api", "post", "/api/2.1/clusters/events", "--json", `{"cluster_id":"${id}","order":"DESC","limit":1}`]]);
    expect(s.verify.stderr).toContain("1 cluster(s) not as expected after pulumi up on stack dev");
  });

  it("TERMINATED stays TERMINATED after an edit: passes", () => {
    const id = "0101-000000-off";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "TERMINATED", { code: "INACTIVITY" }), cluster(id, "TERMINATED", { spec: "b", code: "INACTIVITY" })] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`spec changed; was TERMINATED, now TERMINATED (an edit does not start it)`);
  });

  it("TERMINATED, then RUNNING: an edit never starts a cluster, so someone did; passes with a note", () => {
    const id = "0101-000000-woke";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "TERMINATED"), cluster(id, "RUNNING")] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain("spec unchanged; was TERMINATED, now RUNNING; note: started outside this deployment");
  });

  it("still RESTARTING at the timeout: fails, naming the state, the reason and the latest event", () => {
    const id = "0101-000000-slow";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "PENDING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" })] },
      events: { [id]: { events: [{ timestamp: 1733050000000, type: "RESTARTING", details: { user: "deployer" } }] } },
      env: { DCS_CHECK_TIMEOUT_SECONDS: "1", DCS_CHECK_INTERVAL_SECONDS: "0.05" },
    });
    expect(s.verify.status).toBe(1);
    expect(s.verify.stdout).toContain("spec changed; was RUNNING, still RESTARTING (seen: PENDING RESTARTING) after DCS_CHECK_TIMEOUT_SECONDS=1; termination reason: none; latest event: RESTARTING at 2024-12-01T10:46:40.000Z (user=deployer)");
    expect(s.gets(id)).toBeGreaterThanOrEqual(3); // the snapshot, then PENDING and RESTARTING at least
  });

  it("no clusters (a stack not deployed yet, or without cluster outputs): records nothing, calls no Databricks, passes", () => {
    for (const before of [{}, { registryLoginServer: "x.azurecr.io" }]) {
      const s = scenario({ before, states: {} });
      expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
      expect(s.snapshot.stdout).toContain("has no clusters in its outputs");
      expect(fs.readFileSync(s.file, "utf8").split("\n").filter((l) => l && !l.startsWith("#"))).toHaveLength(0); // the header and the time alone
      expect(s.verify.status).toBe(0);
      expect(calls(s.dir, "databricks")).toEqual([]);
    }
  });

  it("a cluster new in this deployment must reach RUNNING", () => {
    const id = "0101-000000-new";
    const s = scenario({ before: {}, after: { clusterId: id }, states: { [id]: [cluster(id, "PENDING"), cluster(id, "RUNNING")] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`(${id}, output clusterId): new; new cluster, now RUNNING through PENDING`);
    const failing = scenario({ before: {}, after: { clusterId: id }, states: { [id]: [cluster(id, "PENDING"), cluster(id, "ERROR", { code: "INIT_SCRIPT_FAILURE" })] } });
    expect(failing.verify.status).toBe(1);
    expect(failing.verify.stdout).toContain("new cluster, ended ERROR through PENDING; termination reason: INIT_SCRIPT_FAILURE; latest event: none recorded");
  });

  it("reads every cluster of a clusters output (name -> { id }) as well as clusterId, each once", () => {
    const [a, b] = ["0101-000000-aaa", "0101-000000-bbb"];
    const outputs = { clusterId: a, clusters: { dask: { id: a, url: "u" }, etl: { id: b } } };
    const s = scenario({ before: outputs, states: { [a]: [cluster(a, "RUNNING"), cluster(a, "RUNNING")], [b]: [cluster(b, "TERMINATED"), cluster(b, "TERMINATED")] } });
    expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
    const rows = fs.readFileSync(s.file, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split("\t").slice(0, 3));
    expect(rows).toEqual([
      [a, "clusterId", "RUNNING"],
      [b, "clusters.etl", "TERMINATED"],
    ]);
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`(${a}, output clusterId): spec unchanged; was RUNNING, now RUNNING`);
    expect(s.verify.stdout).toContain(`(${b}, output clusters.etl): spec unchanged; was TERMINATED, now TERMINATED`);
  });

  it("a cluster that was running and stopped for inactivity during the deployment is noted, not failed", () => {
    const id = "0101-000000-idle";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "TERMINATED", { code: "INACTIVITY" })] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain("spec unchanged; was RUNNING, now TERMINATED; note: terminated by INACTIVITY, not by this deployment");
  });

  it("gives the Databricks CLI the workspace of the stack's platform stack: its URL (dev), or its resource id (prod) unless a host is already set", () => {
    const id = "0101-000000-ws";
    const states = { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING")] };
    const workspaceOf = (dir: string) => calls(dir, "databricks").map((c) => c.slice(-3).join(" "));
    const dev = scenario({ before: { clusterId: id }, states });
    expect(new Set(workspaceOf(dev.dir))).toEqual(new Set(["host=https://adb-1234567890123456.7.azuredatabricks.net resource= auth=azure-cli"]));
    const prod = scenario({ stack: "prod", before: { clusterId: id }, states });
    expect(prod.verify.status).toBe(0);
    expect(new Set(workspaceOf(prod.dir))).toEqual(
      new Set(["host= resource=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod auth=azure-cli"]),
    );
    const ado = scenario({ stack: "prod", before: { clusterId: id }, states, env: { DATABRICKS_HOST: "https://adb-42.1.azuredatabricks.net", DATABRICKS_AUTH_TYPE: "pat" } });
    expect(new Set(workspaceOf(ado.dir))).toEqual(new Set(["host=https://adb-42.1.azuredatabricks.net resource= auth=pat"]));
    expect(calls(ado.dir, "pulumi")).toEqual([
      ["stack", "output", "--json", "--stack", "prod"],
      ["stack", "output", "--json", "--stack", "prod"],
    ]);
  });

  it("fails before the deployment when the outputs or a cluster cannot be read", () => {
    const dir = fakes();
    const file = path.join(dir, "s.tsv");
    const noStack = runScript("check-clusters.sh", ["snapshot", "dev", file], dir, { FAKE_OUTPUTS_FAIL: "1" });
    expect(noStack.status).toBe(1);
    expect(noStack.stderr).toContain("cannot read the outputs of stack dev: error: no stack named 'dev' found");
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ clusterId: "0101-000000-gone" }));
    const gone = runScript("check-clusters.sh", ["snapshot", "dev", file], dir);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("cannot read cluster clusterId (0101-000000-gone): Error: Cluster 0101-000000-gone does not exist");
    expect(fs.existsSync(file)).toBe(false);
  });

  it("refuses bad usage, bad durations, and a snapshot of another stack", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), "{}");
    expect(runScript("check-clusters.sh", ["check", "dev", "x"], dir).status).toBe(2);
    expect(runScript("check-clusters.sh", ["snapshot", "dev"], dir).status).toBe(2);
    const bad = runScript("check-clusters.sh", ["snapshot", "dev", path.join(dir, "s")], dir, { DCS_CHECK_TIMEOUT_SECONDS: "soon" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("DCS_CHECK_TIMEOUT_SECONDS must be a number of seconds, got 'soon'");
    const file = path.join(dir, "dev.tsv");
    expect(runScript("check-clusters.sh", ["snapshot", "dev", file], dir).status).toBe(0);
    const other = runScript("check-clusters.sh", ["verify", "prod", file], dir);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain("is not a snapshot of stack prod");
    expect(runScript("check-clusters.sh", ["verify", "dev", path.join(dir, "missing.tsv")], dir).status).toBe(2);
  });
});

// ---------------------------------------------------------------------------
// The smoke job after every team-stack deployment (issue 13, item 5).

const JOB_ID = "4242";
const RUN_ID = 9001;
const TASK_RUN_ID = 9002;
const RUN_PAGE = `https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#job/${JOB_ID}/run/${RUN_ID}`;
/** What the stack's jobs output holds (`pulumi stack output jobs --json`). */
const JOBS_OUTPUT = { smoke: { id: JOB_ID, url: `https://adb-1234567890123456.7.azuredatabricks.net/#job/${JOB_ID}` } };
/** A credential of the step's environment (Azure DevOps maps DATABRICKS_TOKEN into it). */
const STEP_TOKEN = "dapi-step-token-5e6f7a8b";

/** A `databricks jobs get-run -o json` answer, with the secrets a real run's cluster spec carries. */
function jobRun(life: string, opts: { result?: string; message?: string; task?: { life: string; result?: string; message?: string }; termination?: Obj } = {}): string {
  const task = opts.task ?? { life, result: opts.result };
  return JSON.stringify({
    job_id: Number(JOB_ID),
    run_id: RUN_ID,
    number_in_job: RUN_ID,
    run_page_url: RUN_PAGE,
    state: { life_cycle_state: life, ...(opts.result ? { result_state: opts.result } : {}), state_message: opts.message ?? "" },
    ...(opts.termination ? { status: { state: "TERMINATED", termination_details: opts.termination } } : {}),
    tasks: [
      {
        run_id: TASK_RUN_ID,
        task_key: "dask_smoke",
        state: { life_cycle_state: task.life, ...(task.result ? { result_state: task.result } : {}), state_message: task.message ?? "" },
        spark_python_task: { python_file: "/Workspace/Shared/dcs/jobs/dev/dask_smoke.py", parameters: ["--workers", "2"] },
        new_cluster: {
          docker_image: { url: "dcshydrologydev.azurecr.io/hydrology/dask@sha256:aaaa", basic_auth: { username: "3f6c1f1e", password: SECRETS[0] } },
          spark_env_vars: { DCS_DASK_SCHEDULER_PORT: "8786", TOKENISH: SECRETS[1] },
        },
      },
    ],
  });
}

interface SmokeScenario {
  /** The value of the stack's jobs output. */
  jobs?: unknown;
  /** The answers of `jobs get-run`, in order (the last one repeats). */
  runs: string[];
  /** The task run's `jobs get-run-output` answer. */
  output?: Obj;
  stack?: string;
  args?: string[];
  env?: Record<string, string>;
}

function smokeRun(s: SmokeScenario) {
  const dir = fakes();
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.jobs ?? JOBS_OUTPUT));
  fs.writeFileSync(path.join(dir, "run-now.json"), JSON.stringify({ run_id: RUN_ID, number_in_job: RUN_ID }));
  fs.writeFileSync(path.join(dir, `run-${RUN_ID}.seq`), s.runs.map((r) => `${r}\n`).join(""));
  if (s.output) fs.writeFileSync(path.join(dir, `output-${TASK_RUN_ID}.json`), JSON.stringify(s.output));
  const env = { DCS_SMOKE_INTERVAL_SECONDS: "0", DATABRICKS_AUTH_TYPE: "azure-cli", DATABRICKS_TOKEN: STEP_TOKEN, ...s.env };
  const r = runScript("run-smoke-job.sh", [s.stack ?? "dev", ...(s.args ?? [])], dir, env);
  const text = r.stdout + r.stderr;
  for (const secret of [...SECRETS, STEP_TOKEN]) expect(text, "no secret is ever printed").not.toContain(secret);
  return { dir, r, text, databricks: () => calls(dir, "databricks").map((c) => c.slice(0, -3)) };
}

/** The output of dask_smoke.py as get-run-output gives it: `lines` lines, the last ones its verdict. */
function smokeLogs(lines: number, last: string): string {
  return [...Array.from({ length: lines - 1 }, (_, i) => `dask-smoke: line ${i + 1}`), last].join("\n") + "\n";
}

describe("run-smoke-job.sh", () => {
  it("success: runs the job of the jobs output, waits for the run, prints the run page, the result and the task's last line", () => {
    const passed = "dask-smoke: PASSED: scheduler tcp://10.1.2.3:8786, 2 workers, dask 2024.2.1, distributed 2024.2.1, 14.2 s";
    const s = smokeRun({
      runs: [jobRun("PENDING", { message: "Waiting for cluster" }), jobRun("RUNNING"), jobRun("RUNNING"), jobRun("TERMINATED", { result: "SUCCESS" })],
      output: { logs: smokeLogs(6, passed), metadata: { run_id: TASK_RUN_ID } },
    });
    expect(s.r.status, s.text).toBe(0);
    expect(calls(s.dir, "pulumi")).toEqual([["stack", "output", "jobs", "--json", "--stack", "dev"]]);
    expect(s.databricks()).toEqual([
      ["jobs", "run-now", JOB_ID, "--no-wait", "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run-output", String(TASK_RUN_ID), "-o", "json"],
    ]);
    const lines = s.r.stdout.split("\n");
    expect(lines).toContain(`run-smoke-job: started run ${RUN_ID} of job smoke (job id ${JOB_ID}) of stack dev; waiting up to 30m`);
    expect(lines).toContain(`run-smoke-job: run ${RUN_ID}: ${RUN_PAGE}`);
    // Each state once, as it comes.
    expect(lines.filter((l) => l.startsWith(`run-smoke-job: run ${RUN_ID}: `) && !l.includes("https://"))).toEqual([
      `run-smoke-job: run ${RUN_ID}: PENDING (Waiting for cluster)`,
      `run-smoke-job: run ${RUN_ID}: RUNNING`,
      `run-smoke-job: run ${RUN_ID}: TERMINATED`,
    ]);
    expect(s.r.stdout).toContain(`task dask_smoke (run ${TASK_RUN_ID}), last line of its output: ${passed}`);
    expect(s.r.stdout).toMatch(new RegExp(`run-smoke-job: PASSED: job smoke of stack dev, run ${RUN_ID}: SUCCESS after \\d+s: ${RUN_PAGE.replace(/[?.#/]/g, "\\$&")}\\n$`));
    // The workspace of dev's platform stack, as for the cluster check.
    expect(new Set(calls(s.dir, "databricks").map((c) => c.slice(-3).join(" ")))).toEqual(new Set(["host=https://adb-1234567890123456.7.azuredatabricks.net resource= auth=azure-cli"]));
  });

  it("failure: fails with the run's state and message, the task's error, its error trace and the last lines of its output", () => {
    const logs = [
      ...Array.from({ length: 95 }, (_, i) => `dask-smoke: waiting for workers, line ${i + 1}`),
      `dask-smoke: connected with token ${STEP_TOKEN}`, // a credential of the step: hidden
      "::set-env name=X::1", // a GitHub workflow command: must not reach the log as one
      "##vso[task.setvariable variable=X]1", // an Azure DevOps logging command: likewise
      "dask-smoke: only 1 of 2 workers joined within 900 s: tcp://10.1.2.4:40000",
      "dask-smoke: FAILED: fewer workers than --workers joined (exit 4); see the workers' init-script logs",
    ].join("\n");
    const s = smokeRun({
      runs: [
        jobRun("PENDING"),
        jobRun("RUNNING"),
        jobRun("TERMINATED", {
          result: "FAILED",
          message: "Task dask_smoke failed with message: Workload failed, see run output for details.",
          task: { life: "TERMINATED", result: "FAILED", message: "Workload failed, see run output for details" },
          termination: { code: "RUN_EXECUTION_ERROR", type: "CLIENT_ERROR", message: "Task dask_smoke failed with message: Workload failed." },
        }),
      ],
      output: {
        error: "dask-smoke: FAILED: fewer workers than --workers joined (exit 4)",
        error_trace: Array.from({ length: 60 }, (_, i) => `trace line ${i + 1}`).join("\n"),
        logs,
        logs_truncated: false,
      },
    });
    expect(s.r.status).toBe(1);
    const out = s.r.stdout;
    expect(out).toMatch(
      new RegExp(
        `run-smoke-job: FAILED: job smoke of stack dev, run ${RUN_ID} ended TERMINATED FAILED after \\d+s: Task dask_smoke failed with message: Workload failed, see run output for details\\.; termination: RUN_EXECUTION_ERROR \\(CLIENT_ERROR\\): Task dask_smoke failed with message: Workload failed\\.\\n`,
      ),
    );
    expect(out).toContain(`run-smoke-job: run page: ${RUN_PAGE}\n`);
    expect(out).toContain(`run-smoke-job: task dask_smoke (run ${TASK_RUN_ID}): TERMINATED FAILED: Workload failed, see run output for details\n`);
    expect(out).toContain("  error: dask-smoke: FAILED: fewer workers than --workers joined (exit 4)\n");
    // The last 40 lines of each, no more.
    expect(out).toContain("  error trace (last 40 of 60 lines):\n  | trace line 21\n");
    expect(out).not.toContain("trace line 20\n");
    expect(out).toContain("  | trace line 60\n");
    expect(out).toContain("  output (last 40 of 100 lines):\n  | dask-smoke: waiting for workers, line 61\n");
    expect(out).not.toContain("waiting for workers, line 60\n");
    expect(out).toContain("  | dask-smoke: FAILED: fewer workers than --workers joined (exit 4); see the workers' init-script logs\n");
    expect(out).toContain("  | dask-smoke: connected with token ***\n");
    // Run text never starts a line with "::" nor carries "##vso[".
    expect(out.split("\n").some((l) => /^\s*::/.test(l))).toBe(false);
    expect(out).not.toContain("##vso[");
    expect(out).toContain("  | ::set-env name=X::1\n");
    expect(s.r.stderr).toBe(`run-smoke-job: job smoke of stack dev failed: ${RUN_PAGE}\n`);
    expect(s.databricks().at(-1)).toEqual(["jobs", "get-run-output", String(TASK_RUN_ID), "-o", "json"]);
    // DCS_SMOKE_LOG_LINES shortens the tail.
    const short = smokeRun({ runs: [jobRun("TERMINATED", { result: "FAILED", task: { life: "TERMINATED", result: "FAILED" } })], output: { logs: smokeLogs(10, "dask-smoke: FAILED: x"), logs_truncated: true }, env: { DCS_SMOKE_LOG_LINES: "2" } });
    expect(short.r.stdout).toContain("  output (last 2 of 10 lines; Databricks returns only the last 5 MB):\n  | dask-smoke: line 9\n  | dask-smoke: FAILED: x\n");
  });

  it("a job cluster that cannot start: INTERNAL_ERROR fails with the state message and the termination details; a task without output says so", () => {
    const message = "Cluster 0101-000000-jobc was terminated. Reason: INIT_SCRIPT_FAILURE (CLIENT_ERROR). Parameters: instance_id:abc, databricks_error_message:Cluster scoped init script /Workspace/Shared/dcs/init/dev/dask.sh failed: Script exit status is non-zero.";
    const s = smokeRun({
      runs: [jobRun("PENDING"), jobRun("INTERNAL_ERROR", { result: "FAILED", message, task: { life: "INTERNAL_ERROR", result: "FAILED", message }, termination: { code: "CLUSTER_ERROR", type: "CLIENT_ERROR", message } })],
      output: { error: message },
    });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`ended INTERNAL_ERROR FAILED after`);
    expect(s.r.stdout).toContain(`: ${message}; termination: CLUSTER_ERROR (CLIENT_ERROR): ${message}\n`);
    expect(s.r.stdout).toContain(`  error: ${message}\n  output: none recorded\n`);
  });

  it("a skipped run (another run of the job was active) fails, saying why; a task output that cannot be read is named", () => {
    const s = smokeRun({ runs: [jobRun("SKIPPED", { message: "Skipping this run because the limit of 1 maximum concurrent runs has been reached.", task: { life: "SKIPPED" } })] });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`run ${RUN_ID} ended SKIPPED after`);
    expect(s.r.stdout).toContain("a skipped run never ran: another run of the job was active (one run at a time)");
    expect(s.r.stdout).toContain(`run-smoke-job:   its output cannot be read: Error: Run output of ${TASK_RUN_ID} is not available.`);
  });

  it("no such job: a stack without the job, or without a jobs output at all (a platform stack), says so and passes without Databricks", () => {
    const other = smokeRun({ jobs: { nightly: { id: "77", url: "u" } }, runs: [] });
    expect(other.r.status, other.text).toBe(0);
    expect(other.r.stdout).toBe("run-smoke-job: stack dev declares no job smoke (its jobs: nightly): nothing to run\n");
    const none = smokeRun({ jobs: {}, runs: [] });
    expect(none.r.stdout).toContain("declares no job smoke (its jobs: none)");
    for (const stack of ["dev", "platform-dev"]) {
      const noOutput = smokeRun({ stack, runs: [], env: { FAKE_NO_OUTPUT: "1" } });
      expect(noOutput.r.status, noOutput.text).toBe(0);
      expect(noOutput.r.stdout).toBe(`run-smoke-job: stack ${stack} has no jobs output (a platform stack, or one deployed without jobs): no job smoke to run\n`);
      expect(calls(noOutput.dir, "pulumi")).toEqual([["stack", "output", "jobs", "--json", "--stack", stack]]);
    }
    for (const d of [other, none]) expect(calls(d.dir, "databricks")).toEqual([]);
    // Another job, by name.
    const nightly = smokeRun({ jobs: { smoke: JOBS_OUTPUT.smoke, nightly: { id: "77", url: "u" } }, runs: [jobRun("TERMINATED", { result: "SUCCESS" })], args: ["nightly"] });
    expect(nightly.r.status, nightly.text).toBe(0);
    expect(nightly.databricks()[0]).toEqual(["jobs", "run-now", "77", "--no-wait", "-o", "json"]);
    expect(nightly.r.stdout).toContain("PASSED: job nightly of stack dev");
  });

  it("CLI failures: Pulumi, run-now and get-run failing fail the step with their error; a jobs output that is no job map too", () => {
    const pulumiDown = smokeRun({ runs: [], env: { FAKE_OUTPUTS_FAIL: "1" } });
    expect(pulumiDown.r.status).toBe(1);
    expect(pulumiDown.r.stderr).toContain("run-smoke-job: cannot read the jobs output of stack dev: error: no stack named");
    expect(calls(pulumiDown.dir, "databricks")).toEqual([]);

    const refused = smokeRun({ runs: [], env: { FAKE_RUN_NOW_ERROR: "Error: Job 4242 does not exist." } });
    expect(refused.r.status).toBe(1);
    expect(refused.r.stderr).toBe(`run-smoke-job: FAILED: cannot start job smoke (job id ${JOB_ID}) of stack dev: Error: Job 4242 does not exist. \n`);
    expect(refused.databricks()).toEqual([["jobs", "run-now", JOB_ID, "--no-wait", "-o", "json"]]);

    const unreadable = smokeRun({ runs: [], env: { FAKE_GET_RUN_ERROR: "Error: Invalid access token." } });
    expect(unreadable.r.status).toBe(1);
    expect(unreadable.r.stderr).toContain(`run-smoke-job: FAILED: cannot read run ${RUN_ID} of job smoke (5 attempts in a row): Error: Invalid access token.`);
    expect(unreadable.databricks().filter((c) => c[1] === "get-run")).toHaveLength(5);

    for (const jobs of ["[secret]", { smoke: { id: "not-a-job-id" } }, { smoke: null }]) {
      const bad = smokeRun({ jobs, runs: [] });
      expect(bad.r.status, JSON.stringify(jobs)).toBe(1);
      expect(bad.r.stderr).toContain("run-smoke-job: cannot read the jobs output of stack dev: job-run.js:");
      expect(calls(bad.dir, "databricks")).toEqual([]);
    }
  });

  it("a run still going at DCS_SMOKE_TIMEOUT is cancelled and fails the step", () => {
    const s = smokeRun({ runs: [jobRun("PENDING"), jobRun("RUNNING")], env: { DCS_SMOKE_TIMEOUT: "1s", DCS_SMOKE_INTERVAL_SECONDS: "0.05" } });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`run-smoke-job: FAILED: run ${RUN_ID} of job smoke of stack dev is still RUNNING after DCS_SMOKE_TIMEOUT=1s: ${RUN_PAGE}\n`);
    expect(s.r.stderr).toContain(`run-smoke-job: cancelled run ${RUN_ID} (timed out): ${RUN_PAGE}`);
    expect(s.databricks().at(-1)).toEqual(["jobs", "cancel-run", String(RUN_ID), "--no-wait"]);
    expect(s.databricks().filter((c) => c[1] === "get-run").length).toBeGreaterThanOrEqual(3);
  });

  it("a step that is interrupted (the job cancelled, or its own timeout) cancels the run", async () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(JOBS_OUTPUT));
    fs.writeFileSync(path.join(dir, "run-now.json"), JSON.stringify({ run_id: RUN_ID }));
    fs.writeFileSync(path.join(dir, `run-${RUN_ID}.seq`), `${jobRun("RUNNING")}\n`);
    const child = spawn("bash", [path.join("scripts/ci", "run-smoke-job.sh"), "dev"], {
      cwd: ROOT,
      env: { PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: sandbox, FAKE_DIR: dir, DCS_SMOKE_INTERVAL_SECONDS: "60" },
    });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Once the run is being waited for, the runner stops the step.
    for (let i = 0; i < 400 && !stdout.includes(`run ${RUN_ID}: RUNNING`); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(calls(dir, "databricks").map((c) => c.slice(0, -3)).at(-1)).toEqual(["jobs", "cancel-run", String(RUN_ID), "--no-wait"]);
    expect(stderr).toContain(`run-smoke-job: cancelled run ${RUN_ID} (terminated): ${RUN_PAGE}`);
  }, 30_000);

  it("gives the Databricks CLI the workspace of prod's platform stack (its resource id) unless a host is set", () => {
    const prod = smokeRun({ stack: "prod", runs: [jobRun("TERMINATED", { result: "SUCCESS" })] });
    expect(prod.r.status, prod.text).toBe(0);
    expect(new Set(calls(prod.dir, "databricks").map((c) => c.at(-2)))).toEqual(
      new Set(["resource=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod"]),
    );
    const ado = smokeRun({ stack: "prod", runs: [jobRun("TERMINATED", { result: "SUCCESS" })], env: { DATABRICKS_HOST: "https://adb-42.1.azuredatabricks.net", DATABRICKS_AUTH_TYPE: "pat" } });
    expect(new Set(calls(ado.dir, "databricks").map((c) => c.slice(-3).join(" ")))).toEqual(new Set(["host=https://adb-42.1.azuredatabricks.net resource= auth=pat"]));
  });

  it("refuses bad usage, a bad job name, a bad timeout and an unknown stack, before anything runs", () => {
    const cases: [string[], Record<string, string>, string][] = [
      [[], {}, "usage: scripts/ci/run-smoke-job.sh STACK [JOB]"],
      [["dev", "smoke", "extra"], {}, "usage: scripts/ci/run-smoke-job.sh STACK [JOB]"],
      [["dev", "Smoke;rm"], {}, "JOB is a name of the stack's dcs:jobs"],
      [["nosuchstack"], {}, "no stack file Pulumi.nosuchstack.yaml"],
      [["dev"], { DCS_SMOKE_TIMEOUT: "soon" }, "DCS_SMOKE_TIMEOUT must be a duration such as 30m, 1h30m or 90s (or seconds), got 'soon'"],
      [["dev"], { DCS_SMOKE_TIMEOUT: "0m" }, "got '0m'"],
      [["dev"], { DCS_SMOKE_INTERVAL_SECONDS: "often" }, "DCS_SMOKE_INTERVAL_SECONDS must be a number of seconds"],
      [["dev"], { DCS_SMOKE_LOG_LINES: "0" }, "DCS_SMOKE_LOG_LINES must be a number of lines"],
    ];
    for (const [args, env, message] of cases) {
      const dir = fakes();
      const r = runScript("run-smoke-job.sh", args, dir, env);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(calls(dir)).toEqual([]);
    }
    // Durations as Go writes them, and plain seconds.
    for (const timeout of ["1h30m", "45m", "90s", "1800"]) {
      const ok = smokeRun({ runs: [jobRun("TERMINATED", { result: "SUCCESS" })], env: { DCS_SMOKE_TIMEOUT: timeout } });
      expect(ok.r.status, timeout).toBe(0);
      expect(ok.r.stdout).toContain(`waiting up to ${timeout}`);
    }
  });
});

// ---------------------------------------------------------------------------
// The base image in the stack's registry (issue 10, item 9).

const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER_DIGEST = `sha256:${"cd".repeat(32)}`;
const withBaseFromRegistry = (t: string, digest?: string) =>
  withoutBaseFromRegistry(t).replace("    runtime: 16.4-LTS\n", `    runtime: 16.4-LTS\n    baseFromRegistry: true\n${digest ? `    baseDigest: ${digest}\n` : ""}`);
/** A committed stack's rendering, as the program will render the stack `name` (same resources, its name). */
function renderingAs(from: string, name: string, edit: (doc: Rendering) => void = () => undefined): string {
  const doc = JSON.parse(fs.readFileSync(renderedFile(from), "utf8")) as Rendering;
  doc.stack = name;
  edit(doc);
  const file = path.join(fs.mkdtempSync(path.join(sandbox, "as-")), `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

describe("import-base.sh", () => {
  it("a stack that builds on Docker Hub's base imports nothing", () => {
    const dir = fakes();
    const r = runScript("import-base.sh", [tmpStack("dev", "hub-import", withoutBaseFromRegistry)], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("builds every image on its base from Docker Hub (no dcs:image.baseFromRegistry or dcs:images.<name>.baseFromRegistry is true); nothing to import");
    expect(calls(dir)).toEqual([]);
  });

  it("no digest pinned: imports the runtime's tag once, and skips it when the registry has it (prod: one image; dev's two: test/ci-images.test.ts)", () => {
    const stack = tmpStack("prod", "base-tag", (t) => withBaseFromRegistry(t));
    const dir = fakes();
    const r = runScript("import-base.sh", [stack], dir, { FAKE_IMPORTED_DIGEST: DIGEST });
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "az")).toEqual([
      ["acr", "repository", "show", "--name", "dcshydrologyprod", "--image", "databricksruntime/standard:16.4-LTS", "--query", "digest", "--output", "tsv"],
      ["acr", "import", "--name", "dcshydrologyprod", "--source", "docker.io/databricksruntime/standard:16.4-LTS", "--image", "databricksruntime/standard:16.4-LTS"],
    ]);
    const again = runScript("import-base.sh", [stack], dir);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain(`dcshydrologyprod already holds databricksruntime/standard:16.4-LTS (${DIGEST}); nothing to import`);
    expect(calls(dir, "az").filter((c) => c[1] === "import")).toHaveLength(1);
  });

  it("digest pinned: nothing when the tag has it; by digest, with --force, when the tag has another; fails when the registry then reports another", () => {
    const stack = tmpStack("prod", "base-digest", (t) => withBaseFromRegistry(t, DIGEST));
    const same = fakes();
    fs.writeFileSync(path.join(same, "repo-digest"), `${DIGEST}\n`);
    const r = runScript("import-base.sh", [stack], same);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(same, "az").map((c) => c[1])).toEqual(["repository"]);
    const moved = fakes();
    fs.writeFileSync(path.join(moved, "repo-digest"), `${OTHER_DIGEST}\n`);
    const m = runScript("import-base.sh", [stack], moved, { FAKE_IMPORTED_DIGEST: DIGEST });
    expect(m.status, m.stderr).toBe(0);
    expect(calls(moved, "az")[1]).toEqual(["acr", "import", "--name", "dcshydrologyprod", "--source", `docker.io/databricksruntime/standard@${DIGEST}`, "--image", "databricksruntime/standard:16.4-LTS", "--force"]);
    expect(calls(moved, "az")[2].slice(0, 3)).toEqual(["acr", "repository", "show"]);
    const missing = fakes();
    const n = runScript("import-base.sh", [stack], missing, { FAKE_IMPORTED_DIGEST: DIGEST });
    expect(n.status, n.stderr).toBe(0);
    expect(calls(missing, "az")[1]).not.toContain("--force");
    const wrong = fakes();
    const w = runScript("import-base.sh", [stack], wrong, { FAKE_IMPORTED_DIGEST: OTHER_DIGEST });
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(`not the pinned ${DIGEST}`);
  });

  it("registry-login.sh logs Docker in for the base in any push mode, creating the registry first on a first deployment", () => {
    const stack = tmpStack("prod", "sp-base", (t) => withBaseFromRegistry(t));
    const dir = fakes();
    const r = runScript("registry-login.sh", [stack], dir, { FAKE_ACR_SHOW_STATUS: "1", DCS_RENDERING: renderingAs("prod", stack) });
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir).map((c) => c.slice(0, 3).join(" "))).toEqual(["az acr show", "pulumi up --yes", "az acr login"]);
    expect(r.stdout).toContain("creating it before the base image import and the build");
    expect(calls(dir, "az").at(-1)).toEqual(["acr", "login", "--name", "dcshydrologyprod"]);
  });
});

describe("smoke-build.sh --base-from-docker-hub (the pull request's build, no credentials)", () => {
  it("replaces only a registry BASE_IMAGE, by the same base on Docker Hub, digest included", () => {
    const stack = tmpStack("prod", "hub-base", (t) => withBaseFromRegistry(t, DIGEST));
    const rendering = renderingAs("prod", stack, (doc) => {
      const image = doc.resources.find((x) => x.type === TYPES.image)!;
      (image.inputs.build as { args: Record<string, string> }).args.BASE_IMAGE = `dcshydrologyprod.azurecr.io/databricksruntime/standard:16.4-LTS@${DIGEST}`;
    });
    const deploy = fakes();
    expect(runScript("smoke-build.sh", [stack], deploy, { DCS_RENDERING: rendering }).status).toBe(0);
    const program = dockerArgv(deploy)[0];
    expect(program).toContain(`BASE_IMAGE=dcshydrologyprod.azurecr.io/databricksruntime/standard:16.4-LTS@${DIGEST}`);
    const pr = fakes();
    const r = runScript("smoke-build.sh", [stack, "--base-from-docker-hub"], pr, { DCS_RENDERING: rendering });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const hub = dockerArgv(pr)[0];
    expect(hub).toEqual(program.map((a) => (a.startsWith("BASE_IMAGE=") ? `BASE_IMAGE=databricksruntime/standard:16.4-LTS@${DIGEST}` : a)));
    expect(r.stdout).toContain("building on the same base from Docker Hub");
    // A stack already on Docker Hub's base builds exactly as without the flag.
    const fromHub = tmpStack("prod", "hub-smoke", withoutBaseFromRegistry);
    const hubRendering = renderingAs("prod", fromHub, (doc) => {
      const image = doc.resources.find((x) => x.type === TYPES.image)!;
      (image.inputs.build as { args: Record<string, string> }).args.BASE_IMAGE = "databricksruntime/standard:16.4-LTS";
    });
    const plain = fakes();
    expect(runScript("smoke-build.sh", [fromHub, "--base-from-docker-hub"], plain, { DCS_RENDERING: hubRendering }).status).toBe(0);
    expect(dockerArgv(plain)[0]).toEqual(expectedBuild(JSON.parse(fs.readFileSync(hubRendering, "utf8")) as Rendering));
    expect(runScript("smoke-build.sh", ["dev", "--other"], fakes()).status).toBe(2);
  });
});

// ---------------------------------------------------------------------------
// The exact change that deploys, drift, outputs (issue 10, items 7, 10, 11).

const CLUSTER_URN = "urn:pulumi:prod::dcs-platform::dcs:index:DcsCluster$databricks:index/cluster:Cluster::cluster";
function previewJson(opts: { url?: string; extraSame?: boolean; outputs?: string; changes?: boolean } = {}): Obj {
  const steps: Obj[] = [{ op: "same", urn: "urn:pulumi:prod::dcs-platform::pulumi:pulumi:Stack::dcs-platform-prod" }];
  if (opts.extraSame) steps.push({ op: "same", urn: "urn:pulumi:prod::dcs-platform::azure-native:resources:ResourceGroup::rg" });
  if (opts.changes !== false) {
    steps.push({
      op: "update",
      urn: CLUSTER_URN,
      oldState: { outputs: { state: opts.outputs ?? "RUNNING" } },
      newState: { inputs: { sparkVersion: "16.4.x-scala2.12", dockerImage: { url: opts.url ?? "r.azurecr.io/hydrology/dask@sha256:1", basicAuth: { password: "[secret]" } } } },
      diffReasons: ["dockerImage"],
      detailedDiff: { "dockerImage.url": { kind: "update", inputDiff: true } },
    });
  }
  return { steps, changeSummary: opts.changes === false ? { same: 12 } : { same: 12, update: 1 }, diagnostics: [{ severity: "warning", message: "a | warning" }] };
}
const head = () => spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();

describe("preview-change.sh", () => {
  it("record: the change in Markdown and a file with the commit and the fingerprint", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const file = path.join(dir, "approved", "change.json");
    const r = runScript("preview-change.sh", ["record", "prod", file], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "pulumi")).toEqual([["preview", "--stack", "prod", "--refresh", "--json", "--policy-pack", "policy"]]);
    expect(r.stdout).toContain(`### What the approval of stack \`prod\` deploys (commit ${head().slice(0, 12)})`);
    expect(r.stdout).toContain("1 to update; 12 unchanged.");
    expect(r.stdout).toContain("| update | `databricks:index/cluster:Cluster` | `cluster` | dockerImage.url:update |");
    expect(r.stdout).toContain("- warning: a | warning");
    const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as Obj;
    expect(recorded).toMatchObject({ stack: "prod", commit: head(), changes: 1 });
    expect(String(recorded.fingerprint)).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stdout).toContain(`Change fingerprint \`${String(recorded.fingerprint)}\``);
    expect(r.stdout).not.toContain("sha256:1"); // values are never printed
  });

  it("check: passes for the approved change; refuses another change, another commit, another stack, and deploys nothing", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const file = path.join(dir, "change.json");
    expect(runScript("preview-change.sh", ["record", "prod", file], dir).status).toBe(0);
    // The same change, with an unchanged resource more and a cluster state that moved: the same fingerprint.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ extraSame: true, outputs: "TERMINATED" })));
    const ok = runScript("preview-change.sh", ["check", "prod", file], dir);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("is the approved one");
    // Another image: refused.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ url: "r.azurecr.io/hydrology/dask@sha256:2" })));
    const moved = runScript("preview-change.sh", ["check", "prod", file], dir);
    expect(moved.status).toBe(1);
    expect(moved.stdout).toContain("**Refused:** the change differs from the approved preview");
    expect(moved.stdout).toContain("NOT the approved change");
    // Another commit, another stack.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const approved = JSON.parse(fs.readFileSync(file, "utf8")) as Obj;
    fs.writeFileSync(file, JSON.stringify({ ...approved, commit: "0".repeat(40) }));
    expect(runScript("preview-change.sh", ["check", "prod", file], dir).stdout).toContain(`the approved preview was of commit ${"0".repeat(40)}`);
    fs.writeFileSync(file, JSON.stringify({ ...approved, stack: "dev" }));
    expect(runScript("preview-change.sh", ["check", "prod", file], dir).stdout).toContain("the approved change is of stack dev");
    expect(calls(dir, "pulumi").every((c) => c[0] === "preview")).toBe(true);
    expect(runScript("preview-change.sh", ["check", "prod", path.join(dir, "missing.json")], dir).status).toBe(2);
  });

  it("drift: passes without changes; fails listing what differs; fails when the preview fails", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ changes: false })));
    const clean = runScript("preview-change.sh", ["drift", "dev"], dir);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toContain("No changes (12 unchanged).");
    expect(calls(dir, "pulumi")[0]).toEqual(["preview", "--stack", "dev", "--refresh", "--expect-no-changes", "--json", "--policy-pack", "policy"]);
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const drift = runScript("preview-change.sh", ["drift", "prod"], dir, { FAKE_PREVIEW_STATUS: "255" });
    expect(drift.status).toBe(1);
    expect(drift.stdout).toContain("**Drift:** the cloud no longer matches stack `prod` (1 resources differ)");
    expect(drift.stdout).toContain("| update | `databricks:index/cluster:Cluster` | `cluster` |");
    fs.writeFileSync(path.join(dir, "preview.json"), "error: could not log in");
    const broken = runScript("preview-change.sh", ["drift", "prod"], dir, { FAKE_PREVIEW_STATUS: "255" });
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain("the preview failed (exit 255)");
    expect(runScript("preview-change.sh", ["drift"], dir).status).toBe(2);
    expect(runScript("preview-change.sh", ["record", "nosuchstack", "x"], dir).status).toBe(2);
  });
});

describe("outputs-summary.sh", () => {
  it("prints the outputs as a table, secrets as [secret]", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ registryLoginServer: "dcshydrologydev.azurecr.io", pullSecretReference: "[secret]", initScriptDestinations: ["/Shared/a.sh"] }));
    const r = runScript("outputs-summary.sh", ["dev"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "### Outputs of stack `dev`",
        "",
        "| Output | Value |",
        "| --- | --- |",
        '| `initScriptDestinations` | ["/Shared/a.sh"] |',
        "| `pullSecretReference` | [secret] |",
        "| `registryLoginServer` | dcshydrologydev.azurecr.io |",
        "",
      ].join("\n"),
    );
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "--json", "--stack", "dev"]]);
    const failing = runScript("outputs-summary.sh", ["dev"], dir, { FAKE_OUTPUTS_FAIL: "1" });
    expect(failing.status).toBe(1);
  });
});

describe("cache-image.sh", () => {
  // prod: one image (dev's two: test/ci-images.test.ts). The images output as `pulumi stack output images --json` gives it.
  const withBase = () => tmpStack("prod", "cache", (t) => withBaseFromRegistry(t));
  const imagesOutput = (tag: string) => JSON.stringify({ default: { ref: "[unknown]", repository: "hydrology/dask", tag, tagged: `dcshydrologyprod.azurecr.io/hydrology/dask:${tag}` } });

  it("points buildcache at the image just pushed, inside the registry", () => {
    const stack = withBase();
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), imagesOutput("16.4-lts-5c05959dbb65"));
    const r = runScript("cache-image.sh", [stack], dir, { DCS_RENDERING: renderingAs("prod", stack) });
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "images", "--json", "--stack", stack]]);
    expect(calls(dir, "az")).toEqual([
      ["acr", "import", "--name", "dcshydrologyprod", "--source", "dcshydrologyprod.azurecr.io/hydrology/dask:16.4-lts-5c05959dbb65", "--image", "hydrology/dask:buildcache", "--force", "--output", "none"],
    ]);
  });

  it("refuses an output that is not a content tag, and does nothing for a stack that builds from Docker Hub", () => {
    const stack = withBase();
    const bad = fakes();
    fs.writeFileSync(path.join(bad, "outputs.json"), imagesOutput("latest"));
    expect(runScript("cache-image.sh", [stack], bad, { DCS_RENDERING: renderingAs("prod", stack) }).status).toBe(1);
    expect(calls(bad, "az")).toEqual([]);
    const hub = fakes();
    const r = runScript("cache-image.sh", [tmpStack("dev", "hub-cache", withoutBaseFromRegistry)], hub);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("no build cache to update");
    expect(calls(hub)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// lib.sh: where a stack's workspace and state are (issue 12). A team stack
// names its platform stack in dcs:platform.stack and has no dcs:workspace.

/** Runs a function of scripts/ci/lib.sh in bash, with the fakes on PATH. */
function libCall(fn: string, args: string[], dir: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync("bash", ["-c", `set -euo pipefail; source scripts/ci/lib.sh; ${fn} "$@"`, "lib", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    env: { PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: sandbox, FAKE_DIR: dir, ...env },
    timeout: 60_000,
  });
}
/** dcs:workspace of a stack file, read here independently of lib.sh. */
const workspaceOfFile = (stack: string) => (((parseYaml(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as Obj).config ?? {}) as Obj)["dcs:workspace"] as Obj;
const PLATFORM_BLOCK = /  dcs:platform:\n    stack: [^\n]*\n/;

describe("lib.sh stack_workspace: a team stack runs in its platform stack's workspace", () => {
  it("the committed stacks: dev and prod take platform-dev's URL and platform-prod's resource id from those stack files, asking neither Pulumi nor Azure", () => {
    const dir = fakes();
    const expected = {
      "platform-dev": `url ${String(workspaceOfFile("platform-dev").url)}`,
      dev: `url ${String(workspaceOfFile("platform-dev").url)}`,
      "platform-prod": `resourceId ${String(workspaceOfFile("platform-prod").resourceId)}`,
      prod: `resourceId ${String(workspaceOfFile("platform-prod").resourceId)}`,
    };
    for (const [stack, line] of Object.entries(expected)) {
      const r = libCall("stack_workspace", [stack], dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, stack).toBe(`${line}\n`);
    }
    expect(expected.dev).toBe("url https://adb-1234567890123456.7.azuredatabricks.net");
    expect(expected.prod).toMatch(/^resourceId \/subscriptions\/[^/]+\/resourceGroups\/rg-databricks-prod\/providers\/Microsoft\.Databricks\/workspaces\/dbw-hydrology-prod$/);
    expect(workspaceOfFile("dev"), "a team stack names no workspace of its own").toBeUndefined();
    expect(calls(dir)).toEqual([]);
  });

  it("takes the last path segment of dcs:platform.stack, or a bare name; a stack on its own gives its own dcs:workspace", () => {
    const dir = fakes();
    const bare = tmpStack("dev", "ws-bare", (t) => t.replace("organization/dcs-platform/platform-dev", "platform-dev"));
    const onItsOwn = tmpStack("dev", "ws-alone", (t) => t.replace(PLATFORM_BLOCK, "  dcs:workspace:\n    url: https://adb-5555555555555555.5.azuredatabricks.net\n"));
    expect(libCall("stack_workspace", [bare], dir).stdout).toBe("url https://adb-1234567890123456.7.azuredatabricks.net\n");
    expect(libCall("platform_stack_of", [bare], dir).stdout).toBe("platform-dev");
    expect(libCall("stack_workspace", [onItsOwn], dir).stdout).toBe("url https://adb-5555555555555555.5.azuredatabricks.net\n");
    expect(libCall("platform_stack_of", [onItsOwn], dir).stdout).toBe("");
    expect(calls(dir)).toEqual([]);
  });

  it("a platform stack kept outside the repository: its deployed workspaceUrl output; refused, saying to deploy it first, when it has none", () => {
    const elsewhere = tmpStack("dev", "ws-elsewhere", (t) => t.replace("organization/dcs-platform/platform-dev", "organization/dcs-platform/platform-elsewhere"));
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), "https://adb-7777777777777777.7.azuredatabricks.net\n");
    const r = libCall("stack_workspace", [elsewhere], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("url https://adb-7777777777777777.7.azuredatabricks.net\n");
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "workspaceUrl", "--stack", "organization/dcs-platform/platform-elsewhere"]]);
    // databricks-auth.sh hands that host on.
    const auth = runScript("databricks-auth.sh", [elsewhere], dir);
    expect(auth.status, auth.stderr).toBe(0);
    expect(auth.stdout).toContain("export DATABRICKS_HOST=https://adb-7777777777777777.7.azuredatabricks.net");
    expect(auth.stdout).toContain("(of platform stack organization/dcs-platform/platform-elsewhere of stack");

    const missing = fakes();
    const refused = libCall("stack_workspace", [elsewhere], missing, { FAKE_OUTPUTS_FAIL: "1" });
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(
      `stack ${elsewhere} runs in the workspace of platform stack organization/dcs-platform/platform-elsewhere (dcs:platform.stack), which is not in this repository and gives no workspaceUrl output (deploy it first, or log in to its backend): error: no stack named 'organization/dcs-platform/platform-elsewhere' found`,
    );
    const authRefused = runScript("databricks-auth.sh", [elsewhere], missing, { FAKE_OUTPUTS_FAIL: "1" });
    expect(authRefused.status).toBe(1);
    expect(calls(missing, "az"), "no token for an unknown workspace").toEqual([]);
  });

  it("refuses, naming the file to fix, when neither the stack nor its platform stack names a workspace; the scripts stop before Databricks", () => {
    const noWorkspace = tmpStack("platform-dev", "ws-none-platform", (t) => t.replace(/  dcs:workspace:\n    url: [^\n]*\n/, "").replace("  dcs:environment: dev\n", ""));
    const team = tmpStack("dev", "ws-to-none", (t) => t.replace("organization/dcs-platform/platform-dev", `organization/dcs-platform/${noWorkspace}`));
    const neither = tmpStack("dev", "ws-neither", (t) => t.replace(PLATFORM_BLOCK, ""));
    const dir = fakes();
    const a = libCall("stack_workspace", [team], dir);
    expect(a.status).toBe(1);
    expect(a.stderr).toContain(`Pulumi.${noWorkspace}.yaml, the platform stack of ${team} (dcs:platform.stack), names no workspace (dcs:workspace.url or .resourceId)`);
    const b = libCall("stack_workspace", [neither], dir);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`Pulumi.${neither}.yaml names no workspace (dcs:workspace.url or .resourceId) and no platform stack (dcs:platform.stack)`);
    expect(libCall("stack_workspace", ["no-such-stack"], dir).status).not.toBe(0);

    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ clusterId: "0101-000000-nows" }));
    const check = runScript("check-clusters.sh", ["snapshot", team, path.join(dir, "s.tsv")], dir);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("names no workspace");
    const auth = runScript("databricks-auth.sh", [neither], dir);
    expect(auth.status).toBe(1);
    expect(calls(dir, "databricks")).toEqual([]);
    expect(calls(dir, "az")).toEqual([]);
  });
});

describe("lib.sh backend_url: a team stack shares its platform stack's backend", () => {
  it("{platform} is the platform stack's name (a platform stack's own), {stack} the stack's own; empty is Pulumi Cloud", () => {
    const dir = fakes();
    const elsewhere = tmpStack("dev", "be-elsewhere", (t) => t.replace("organization/dcs-platform/platform-dev", "organization/dcs-platform/platform-elsewhere"));
    const onItsOwn = tmpStack("dev", "be-alone", (t) => t.replace(PLATFORM_BLOCK, "  dcs:workspace:\n    url: https://adb-5555555555555555.5.azuredatabricks.net\n"));
    const byPlatform = { PULUMI_BACKEND_URL: "azblob://pulumi-{platform}?storage_account=dcsstate" };
    const cases: [string, Record<string, string>, string][] = [
      ["dev", byPlatform, "azblob://pulumi-platform-dev?storage_account=dcsstate"],
      ["platform-dev", byPlatform, "azblob://pulumi-platform-dev?storage_account=dcsstate"],
      ["prod", byPlatform, "azblob://pulumi-platform-prod?storage_account=dcsstate"],
      ["platform-prod", byPlatform, "azblob://pulumi-platform-prod?storage_account=dcsstate"],
      [elsewhere, byPlatform, "azblob://pulumi-platform-elsewhere?storage_account=dcsstate"],
      [onItsOwn, byPlatform, `azblob://pulumi-${onItsOwn}?storage_account=dcsstate`],
      ["dev", { PULUMI_BACKEND_URL: "azblob://pulumi-{stack}?storage_account=dcsstate" }, "azblob://pulumi-dev?storage_account=dcsstate"],
      ["dev", {}, "https://api.pulumi.com"],
    ];
    for (const [stack, env, url] of cases) {
      const r = libCall("backend_url", [stack], dir, env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, `${stack} ${JSON.stringify(env)}`).toBe(`${url}\n`);
    }
    expect(calls(dir), "the backend is known from the files alone").toEqual([]);
  });
});

describe("lib.sh stack_images and registry_host: what import-base.sh, smoke-build.sh and cache-image.sh start from", () => {
  it("stack_images reads the images of the stack's rendering and leaves no file behind; a stack without an image returns 3, quietly", () => {
    const dir = fakes();
    const tmpdir = fs.mkdtempSync(path.join(sandbox, "tmpdir-"));
    const list = 'f() { stack_images "$1"; printf "%s %s\\n" "${image_name[0]}" "${image_context[0]}"; }; f';
    const r = libCall(list, ["prod"], dir, { DCS_RENDERING: renderedFile("prod"), TMPDIR: tmpdir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("default infra/image\n");
    const none = libCall('f() { local status=0; stack_images "$1" || status=$?; echo "status $status"; }; f', ["platform-dev"], dir, { DCS_RENDERING: renderedFile("platform-dev"), TMPDIR: tmpdir });
    expect(none.stdout).toBe("status 3\n");
    expect(none.stderr).toBe("");
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it("registry_host: the registry's login server, in lower case", () => {
    expect(libCall("registry_host", ["DcsHydrologyDev"], fakes()).stdout).toBe("dcshydrologydev.azurecr.io");
  });
});
