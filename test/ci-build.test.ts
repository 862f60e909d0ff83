/**
 * The image scripts of scripts/ci with prod, a stack that builds one image,
 * run for real against the stand-in commands of test/helpers/ci-standins.ts
 * (dev's two images, the default and a GPU one, are in test/ci-images.test.ts):
 *
 * - smoke-build.sh: `docker build` gets exactly the rendering's context,
 *   Dockerfile, platform and build arguments, then the smoke test runs; with
 *   --base-from-docker-hub (the pull request's build) a registry base is
 *   replaced by the same base on Docker Hub;
 * - import-base.sh: the base imported into the stack's registry once (by tag,
 *   or by the pinned digest, with --force only when the tag differs), and
 *   registry-login.sh creating the registry first for that in any push mode;
 * - cache-image.sh: buildcache pointed at the image just pushed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { calls, dockerArgv } from "./helpers/ci-fakes";
import { ciSandbox, type Rendering, type Resource, TYPES, withoutBaseFromRegistry } from "./helpers/ci-standins";

const { sandbox, fakes, runScript, render, renderedFile, tmpStack } = ciSandbox("dcs-ci-build-");

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
