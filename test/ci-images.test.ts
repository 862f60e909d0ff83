/**
 * The pipeline scripts with a stack that builds several images (issue 16): dev
 * declares the default image (dcs:image, infra/image on
 * databricksruntime/standard) and a GPU image (dcs:images.gpu, infra/image-gpu
 * on nvidia/cuda), both built from the stack's registry. Run for real against
 * stand-in `pulumi`, `az` and `docker` commands on PATH that record how they
 * were called, with the renderings `npm start -- --stack X --out F` makes:
 *
 * - rendering.js images: every image build, NUL-separated, the default first;
 * - import-base.sh: each image's base imported, the source derived from its
 *   BASE_IMAGE; a GPU base pinned by digest imported by digest;
 * - smoke-build.sh: every image built as `pulumi up` builds it, each with the
 *   smoke checks that apply to it (the GPU context has no smoke test of its
 *   own: infra/image-checks.sh against its own requirements);
 * - cache-image.sh: each image's <repository>:buildcache refreshed;
 * - registry-login.sh: a named image from the registry needs the login too;
 * - stack-secrets.sh: dcs:imagePullSecrets.<image> from DCS_IMAGE_PULL_SECRETS.
 *
 * A single-image stack (prod) behaving as before is in test/ci-build.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { calls, dockerArgv, installFakes, renderedFile as renderedFileOf, runCiScript } from "./helpers/ci-fakes";
import { ROOT } from "./helpers/record";

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-ci-images-"));
afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));

interface Build {
  context: string;
  dockerfile: string;
  platform: string;
  args: Record<string, string>;
  cacheFrom?: { images: string[] };
}
interface Resource {
  urn: string;
  type: string;
  name: string;
  inputs: { imageName?: string; build?: Build };
}
interface Rendering {
  stack: string;
  resources: Resource[];
  outputs: Record<string, unknown>;
}

const IMAGE = "docker:index/image:Image";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER_DIGEST = `sha256:${"cd".repeat(32)}`;
const CPU_BASE = "databricksruntime/standard:16.4-LTS";
const GPU_BASE = "nvidia/cuda:12.6.3-runtime-ubuntu24.04";

// ---------------------------------------------------------------------------
// Stand-ins. Each appends one line per call to $FAKE_DIR/calls (its name and
// its arguments, tab-separated), so the tests see the order across commands.

const FAKE_PULUMI = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'pulumi\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
if [[ ! -t 0 ]]; then printf 'stdin\\t%s\\n' "$(cat)" >>"$FAKE_DIR/calls"; fi
case "$1" in
  stack) cat "$FAKE_DIR/outputs.json" ;;
esac
`;

// az: the registry holds an image when $FAKE_DIR/held/<image, / and : as _> names its digest;
// an import stores the source's digest (a tag's: sha256:ee...), or $FAKE_IMPORTED_DIGEST.
const FAKE_AZ = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'az\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
arg() { local want="$1"; shift; while (($#)); do [[ "$1" != "$want" ]] || { printf '%s' "$2"; return; }; shift; done; }
held="$FAKE_DIR/held/$(arg --image "$@" | tr '/:' '__')"
case "$1 $2" in
  "acr show") exit "\${FAKE_ACR_SHOW_STATUS:-0}" ;;
  "acr repository")
    [[ -f "$held" ]] || { echo "ERROR: manifest unknown" >&2; exit 1; }
    cat "$held" ;;
  "acr import")
    source="$(arg --source "$@")"
    digest="sha256:${"e".repeat(64)}"
    [[ "$source" != *@* ]] || digest="\${source#*@}"
    mkdir -p "$FAKE_DIR/held"
    echo "\${FAKE_IMPORTED_DIGEST:-$digest}" >"$held" ;;
esac
`;

// docker: also writes each call's arguments NUL-separated to $FAKE_DIR/docker.argv, and
// what a `docker run` reads on stdin to $FAKE_DIR/docker.stdin.
const FAKE_DOCKER = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'docker\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
{ printf '%s\\0' "$@"; printf '\\n'; } >>"$FAKE_DIR/docker.argv"
case "$1" in
  build) exit "\${FAKE_BUILD_STATUS:-0}" ;;
  run) [[ -t 0 ]] || cat >>"$FAKE_DIR/docker.stdin" ;;
  image)
    case "$*" in
      *Architecture*) echo linux/amd64 ;;
      *'"solution"'*) echo xkp ;;
      *image.title*) echo "stand-in" ;;
      *dcs.cuda.version*) echo "\${FAKE_CUDA_LABEL:-12.6.3}" ;;
      *) echo "" ;;
    esac ;;
esac
exit 0
`;

const fakes = () => installFakes(sandbox, { pulumi: FAKE_PULUMI, az: FAKE_AZ, docker: FAKE_DOCKER });

/** Holds IMAGE in the stand-in registry at DIGEST. */
function hold(dir: string, image: string, digest: string): void {
  fs.mkdirSync(path.join(dir, "held"), { recursive: true });
  fs.writeFileSync(path.join(dir, "held", image.replace(/[/:]/g, "_")), `${digest}\n`);
}

const runScript = (script: string, args: string[], dir: string, env: Record<string, string> = {}) => runCiScript(sandbox, script, args, dir, env);

const renderedFile = (stack: string) => renderedFileOf(sandbox, stack);
const rendering = (stack: string) => JSON.parse(fs.readFileSync(renderedFile(stack), "utf8")) as Rendering;
/** The build of the image resource NAME (image-image, image-gpu-image) in a rendering. */
function buildOf(r: Rendering, resource: string): Build {
  const image = r.resources.find((x) => x.type === IMAGE && x.name === resource);
  expect(image, resource).toBeDefined();
  return image!.inputs.build!;
}
/** The docker build command the rendering declares for one image, made here from its inputs. */
function expectedBuild(build: Build, tag: string): string[] {
  const args = Object.keys(build.args)
    .sort()
    .flatMap((k) => ["--build-arg", `${k}=${build.args[k]}`]);
  return ["build", "--platform", build.platform, "-f", build.dockerfile, ...args, "-t", tag, build.context];
}

/** A temporary Pulumi.<name>.yaml made from a committed one; removed after the suite. */
const tmpStacks: string[] = [];
afterAll(() => tmpStacks.forEach((f) => fs.rmSync(f, { force: true })));
function tmpStack(from: string, suffix: string, edit: (text: string) => string): string {
  const name = `tmp-${process.pid}-img-${suffix}`;
  const file = path.join(ROOT, `Pulumi.${name}.yaml`);
  const original = fs.readFileSync(path.join(ROOT, `Pulumi.${from}.yaml`), "utf8");
  const edited = edit(original);
  expect(edited, "the edit changed the stack file").not.toBe(original);
  fs.writeFileSync(file, edited.replace(/^config:\n/m, `config:\n  dcs:environment: ${from}\n`));
  tmpStacks.push(file);
  return name;
}
const GPU_CONTEXT = "      context: infra/image-gpu\n";
/** dev with its GPU image's base pinned to DIGEST. */
const gpuPinned = (t: string) => t.replace(GPU_CONTEXT, `${GPU_CONTEXT}      baseDigest: ${DIGEST}\n`);
/** dev with its GPU image built on Docker Hub's base (its baseFromRegistry removed). */
const gpuFromHub = (t: string) => t.replace(/( {6})baseFromRegistry: true\n/, "");
/** dev with only its GPU image built from the registry (dcs:image's baseFromRegistry and comment removed). */
const onlyGpuFromRegistry = (t: string) => t.replace(/( {4}# [^\n]*\n)*( {4})baseFromRegistry: true\n(?= {4}repository: hydrology\/dask\n)/, "");

// ---------------------------------------------------------------------------

describe("rendering.js images", () => {
  const records = (file: string) => {
    const r = spawnSync("node", ["scripts/ci/rendering.js", "images", file], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const fields = r.stdout.split("\0");
    expect(fields.pop()).toBe(""); // every field NUL-terminated
    const out: { head: string[]; args: string[] }[] = [];
    for (let k = 0; k < fields.length; ) {
      const n = Number(fields[k + 9]);
      out.push({ head: fields.slice(k, k + 9), args: fields.slice(k + 10, k + 10 + n) });
      k += 10 + n;
    }
    return out;
  };

  it("dev: both images, the default first, each with its name, resource, repository, tag, build and cache, exactly as rendered", () => {
    const r = rendering("dev");
    const images = records(renderedFile("dev"));
    expect(images.map((i) => i.head.slice(0, 3))).toEqual([
      ["default", "image-image", "hydrology/dask"],
      ["gpu", "image-gpu-image", "hydrology/dask-gpu"],
    ]);
    const outputs = r.outputs.images as Record<string, { tag: string }>;
    for (const [i, resource] of [
      [0, "image-image"],
      [1, "image-gpu-image"],
    ] as const) {
      const build = buildOf(r, resource);
      const [name, , repository, tag, ref, context, dockerfile, platform, cacheFrom] = images[i].head;
      expect(tag).toBe(outputs[name].tag);
      expect(ref).toBe(r.resources.find((x) => x.name === resource)!.inputs.imageName);
      expect(ref.endsWith(`/${repository}:${tag}`)).toBe(true);
      expect([context, dockerfile, platform]).toEqual([build.context, build.dockerfile, build.platform]);
      expect(cacheFrom).toBe(`dcshydrologydev.azurecr.io/${repository}:buildcache`);
      expect(images[i].args).toEqual(
        Object.keys(build.args)
          .sort()
          .map((k) => `${k}=${build.args[k]}`),
      );
    }
    expect(images[1].args).toContain(`BASE_IMAGE=dcshydrologydev.azurecr.io/${GPU_BASE}`);
    expect(images[1].args).toContain("CUDA_VERSION=12.6.3");
  });

  it("image-build: needs a name when there are several images; one image's build as before; prod's single image needs none", () => {
    const dev = renderedFile("dev");
    const all = spawnSync("node", ["scripts/ci/rendering.js", "image-build", dev], { cwd: ROOT, encoding: "utf8" });
    expect(all.status).toBe(1);
    expect(all.stderr).toContain("declares 2 images (default, gpu); name one");
    const gpu = spawnSync("node", ["scripts/ci/rendering.js", "image-build", dev, "gpu"], { cwd: ROOT, encoding: "utf8" });
    expect(gpu.status, gpu.stderr).toBe(0);
    const build = buildOf(rendering("dev"), "image-gpu-image");
    expect(gpu.stdout.split("\0").slice(0, 3)).toEqual([build.context, build.dockerfile, build.platform]);
    expect(spawnSync("node", ["scripts/ci/rendering.js", "image-build", dev, "nope"], { cwd: ROOT, encoding: "utf8" }).status).toBe(3);
    const prod = spawnSync("node", ["scripts/ci/rendering.js", "image-build", renderedFile("prod")], { cwd: ROOT, encoding: "utf8" });
    expect(prod.status, prod.stderr).toBe(0);
    expect(records(renderedFile("prod")).map((i) => i.head[0])).toEqual(["default"]);
  });
});

describe("import-base.sh: every image's base", () => {
  it("dev: imports databricksruntime/standard and nvidia/cuda from Docker Hub once each, and nothing when the registry has them", () => {
    const dir = fakes();
    const r = runScript("import-base.sh", ["dev"], dir, { DCS_RENDERING: renderedFile("dev") });
    expect(r.status, r.stderr).toBe(0);
    const show = (image: string) => ["acr", "repository", "show", "--name", "dcshydrologydev", "--image", image, "--query", "digest", "--output", "tsv"];
    expect(calls(dir, "az")).toEqual([
      show(CPU_BASE),
      ["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/${CPU_BASE}`, "--image", CPU_BASE],
      show(GPU_BASE),
      ["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/${GPU_BASE}`, "--image", GPU_BASE],
    ]);
    expect(r.stdout).toContain(`image gpu: importing docker.io/${GPU_BASE} into dcshydrologydev as ${GPU_BASE}`);
    const again = runScript("import-base.sh", ["dev"], dir, { DCS_RENDERING: renderedFile("dev") });
    expect(again.status, again.stderr).toBe(0);
    expect(calls(dir, "az").filter((c) => c[1] === "import")).toHaveLength(2);
    expect(again.stdout).toContain(`image gpu: dcshydrologydev already holds ${GPU_BASE}`);
    expect(again.stdout).toContain(`image default: dcshydrologydev already holds ${CPU_BASE}`);
  });

  it("a GPU base pinned by digest: imported by digest (--force when the tag has another), checked after; the CPU base by tag", () => {
    const stack = tmpStack("dev", "gpu-digest", gpuPinned);
    const env = { DCS_RENDERING: "" };
    const fresh = fakes();
    const r = runScript("import-base.sh", [stack], fresh, env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const imports = calls(fresh, "az").filter((c) => c[1] === "import");
    expect(imports).toEqual([
      ["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/${CPU_BASE}`, "--image", CPU_BASE],
      ["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/nvidia/cuda@${DIGEST}`, "--image", GPU_BASE],
    ]);
    // The digest the registry reports is checked after the import.
    expect(calls(fresh, "az").at(-1)!.slice(0, 7)).toEqual(["acr", "repository", "show", "--name", "dcshydrologydev", "--image", GPU_BASE]);
    // The tag held at another digest: imported again with --force.
    const moved = fakes();
    hold(moved, CPU_BASE, OTHER_DIGEST);
    hold(moved, GPU_BASE, OTHER_DIGEST);
    const m = runScript("import-base.sh", [stack], moved, env);
    expect(m.status, m.stderr).toBe(0);
    expect(calls(moved, "az").filter((c) => c[1] === "import")).toEqual([["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/nvidia/cuda@${DIGEST}`, "--image", GPU_BASE, "--force"]]);
    expect(m.stdout).toContain(`image gpu: dcshydrologydev holds ${GPU_BASE} at ${OTHER_DIGEST}, not the pinned ${DIGEST}: importing it again`);
    // Already at the pinned digest: nothing; the registry reporting another after the import: fails.
    const same = fakes();
    hold(same, CPU_BASE, OTHER_DIGEST);
    hold(same, GPU_BASE, DIGEST);
    expect(runScript("import-base.sh", [stack], same, env).status).toBe(0);
    expect(calls(same, "az").filter((c) => c[1] === "import")).toEqual([]);
    const wrong = fakes();
    const w = runScript("import-base.sh", [stack], wrong, { ...env, FAKE_IMPORTED_DIGEST: OTHER_DIGEST });
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(`reports ${GPU_BASE} at ${OTHER_DIGEST} after the import, not the pinned ${DIGEST}`);
  });

  it("an image built on Docker Hub's base imports nothing for it; only the other image's base is imported", () => {
    const stack = tmpStack("dev", "gpu-hub", gpuFromHub);
    const dir = fakes();
    const r = runScript("import-base.sh", [stack], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "az").filter((c) => c[1] === "import")).toEqual([["acr", "import", "--name", "dcshydrologydev", "--source", `docker.io/${CPU_BASE}`, "--image", CPU_BASE]]);
    expect(r.stdout).toContain(`image gpu builds on ${GPU_BASE}, not from registry dcshydrologydev; nothing to import`);
  });
});

describe("smoke-build.sh: every image", () => {
  it("dev: builds both images exactly as rendered, each smoke-tested with what applies to it", () => {
    const dir = fakes();
    const r = runScript("smoke-build.sh", ["dev"], dir, { DCS_RENDERING: renderedFile("dev") });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const argv = dockerArgv(dir);
    const builds = argv.filter((a) => a[0] === "build");
    const dev = rendering("dev");
    expect(builds).toEqual([expectedBuild(buildOf(dev, "image-image"), "dcs-smoke:ci"), expectedBuild(buildOf(dev, "image-gpu-image"), "dcs-smoke-gpu:ci")]);
    // Each image is checked right after its build, and only that image.
    const gpuAt = argv.findIndex((a) => a[0] === "build" && a.includes("dcs-smoke-gpu:ci"));
    expect(argv.slice(1, gpuAt).every((a) => a.includes("dcs-smoke:ci"))).toBe(true);
    expect(argv.slice(gpuAt + 1).every((a) => a.includes("dcs-smoke-gpu:ci"))).toBe(true);
    // The default image: infra/image/smoke-test.sh. The GPU image: the checks that apply, against its own context.
    expect(r.stdout).toContain("smoke-test: dcs-smoke:ci passed");
    expect(r.stdout).toContain("infra/image-gpu has no smoke-test.sh of its own");
    expect(r.stdout).toContain("ok    label dcs.cuda.version=12.6.3");
    expect(r.stdout).toContain("image-checks: dcs-smoke-gpu:ci passed");
    const gpuRun = argv.slice(gpuAt).find((a) => a[0] === "run" && a.includes("-B"))!;
    expect(gpuRun).toContain("dask-cuda==24.12.0");
    expect(gpuRun).not.toContain("pandas==1.5.3"); // the CPU image's pin, which the GPU image does not have
    expect(fs.readFileSync(path.join(dir, "docker.stdin"), "utf8")).toContain(fs.readFileSync(path.join(ROOT, "infra/image-gpu/check_requirements.py"), "utf8"));
  });

  it("a GPU image whose CUDA label is not its CUDA_VERSION fails; a failed build stops before the next image", () => {
    const wrongCuda = fakes();
    const r = runScript("smoke-build.sh", ["dev"], wrongCuda, { DCS_RENDERING: renderedFile("dev"), FAKE_CUDA_LABEL: "12.4.1" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("FAIL  label dcs.cuda.version=12.6.3 (got '12.4.1')");
    const broken = fakes();
    expect(runScript("smoke-build.sh", ["dev"], broken, { DCS_RENDERING: renderedFile("dev"), FAKE_BUILD_STATUS: "1" }).status).toBe(1);
    expect(dockerArgv(broken).map((a) => a[0])).toEqual(["build"]);
  });

  it("--base-from-docker-hub: each registry BASE_IMAGE becomes the same base on Docker Hub, digest kept; nothing else changes", () => {
    const stack = tmpStack("dev", "hub-gpu-digest", gpuPinned);
    // dev's own rendering has the GPU base unpinned; this stack pins it.
    expect(buildOf(rendering("dev"), "image-gpu-image").args.BASE_IMAGE).toBe(`dcshydrologydev.azurecr.io/${GPU_BASE}`);
    const deploy = fakes();
    expect(runScript("smoke-build.sh", [stack], deploy).status).toBe(0);
    const program = dockerArgv(deploy).filter((a) => a[0] === "build");
    expect(program[1]).toContain(`BASE_IMAGE=dcshydrologydev.azurecr.io/${GPU_BASE}@${DIGEST}`);
    const pr = fakes();
    const r = runScript("smoke-build.sh", [stack, "--base-from-docker-hub"], pr);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const hub = dockerArgv(pr).filter((a) => a[0] === "build");
    expect(hub[0]).toEqual(program[0].map((a) => (a.startsWith("BASE_IMAGE=") ? `BASE_IMAGE=${CPU_BASE}` : a)));
    expect(hub[1]).toEqual(program[1].map((a) => (a.startsWith("BASE_IMAGE=") ? `BASE_IMAGE=${GPU_BASE}@${DIGEST}` : a)));
    expect(r.stdout).toContain(`image gpu: BASE_IMAGE dcshydrologydev.azurecr.io/${GPU_BASE}@${DIGEST} is the stack's registry`);
  });
});

describe("cache-image.sh: every image built from the registry", () => {
  const outputs = (tags: Record<string, string>) =>
    JSON.stringify({
      default: { ref: "[unknown]", repository: "hydrology/dask", tag: tags.default, tagged: `dcshydrologydev.azurecr.io/hydrology/dask:${tags.default}` },
      gpu: { cuda: "12.6.3", ref: "[unknown]", repository: "hydrology/dask-gpu", tag: tags.gpu, tagged: `dcshydrologydev.azurecr.io/hydrology/dask-gpu:${tags.gpu}` },
    });
  const importOf = (repository: string, tag: string) => ["acr", "import", "--name", "dcshydrologydev", "--source", `dcshydrologydev.azurecr.io/${repository}:${tag}`, "--image", `${repository}:buildcache`, "--force", "--output", "none"];

  it("dev: both images' buildcache tags point at the images just pushed", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), outputs({ default: "16.4-lts-aaaaaaaaaaaa", gpu: "16.4-lts-bbbbbbbbbbbb" }));
    const r = runScript("cache-image.sh", ["dev"], dir, { DCS_RENDERING: renderedFile("dev") });
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "images", "--json", "--stack", "dev"]]);
    expect(calls(dir, "az")).toEqual([importOf("hydrology/dask", "16.4-lts-aaaaaaaaaaaa"), importOf("hydrology/dask-gpu", "16.4-lts-bbbbbbbbbbbb")]);
  });

  it("an image built on Docker Hub's base has no cache to refresh; a tag that is no content tag fails before any copy", () => {
    const hub = fakes();
    fs.writeFileSync(path.join(hub, "outputs.json"), outputs({ default: "16.4-lts-aaaaaaaaaaaa", gpu: "16.4-lts-bbbbbbbbbbbb" }));
    const r = runScript("cache-image.sh", [tmpStack("dev", "cache-gpu-hub", gpuFromHub)], hub);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(hub, "az")).toEqual([importOf("hydrology/dask", "16.4-lts-aaaaaaaaaaaa")]);
    expect(r.stdout).toContain("image gpu does not build from the registry's cache");
    const bad = fakes();
    fs.writeFileSync(path.join(bad, "outputs.json"), outputs({ default: "16.4-lts-aaaaaaaaaaaa", gpu: "latest" }));
    const b = runScript("cache-image.sh", ["dev"], bad, { DCS_RENDERING: renderedFile("dev") });
    expect(b.status).toBe(1);
    expect(b.stdout + b.stderr).toContain("no content tag for image gpu");
    expect(calls(bad, "az")).toEqual([]);
  });
});

describe("registry-login.sh and stack-secrets.sh with named images", () => {
  it("registry-login.sh: a stack whose only image from the registry is a named one logs Docker in, in any push mode", () => {
    const stack = tmpStack("dev", "only-gpu-registry", (t) => onlyGpuFromRegistry(t).replace("      mode: dockerConfig\n", "      mode: adminUser\n"));
    const dir = fakes();
    const r = runScript("registry-login.sh", [stack], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "az").map((c) => c.slice(0, 2).join(" "))).toEqual(["acr show", "acr login"]);
  });

  const withOwnIdentity = (t: string) =>
    t.replace("      repository: hydrology/dask-gpu\n", "      repository: hydrology/dask-gpu\n      pullIdentity:\n        clientId: 1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e\n        objectId: 2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f\n");

  it("stack-secrets.sh: dcs:imagePullSecrets.<image> from DCS_IMAGE_PULL_SECRETS, through stdin, masked, for images with their own pull identity only", () => {
    const stack = tmpStack("dev", "own-pull", withOwnIdentity);
    const gh = path.join(fs.mkdtempSync(path.join(sandbox, "gh-")), "env");
    for (const args of [[stack], [stack, "--preview"]]) {
      const dir = fakes();
      const r = runScript("stack-secrets.sh", args, dir, { GITHUB_ACTIONS: "true", GITHUB_ENV: gh, DCS_IMAGE_PULL_SECRETS: JSON.stringify({ gpu: "s3cr3t-gpu", other: "s3cr3t-other" }) });
      expect(r.status, r.stderr).toBe(0);
      expect(calls(dir)).toEqual([
        ["pulumi", "config", "set", "--secret", "--path", "--stack", stack, "dcs:imagePullSecrets.gpu"],
        ["stdin", "s3cr3t-gpu"],
      ]);
      // Masked first; printed nowhere else.
      expect(r.stdout.split("\n").filter((l) => l.includes("s3cr3t"))).toEqual(["::add-mask::s3cr3t-gpu"]);
      expect(r.stderr).not.toContain("s3cr3t");
      expect(r.stdout).toContain("dcs:imagePullSecrets.gpu set from DCS_IMAGE_PULL_SECRETS");
      expect(r.stderr).toContain("DCS_IMAGE_PULL_SECRETS names image other, which takes no pull secret of its own (no such image in dcs:images); left out");
    }
    // dev's GPU image pulls with dcs:pullIdentity: nothing to set. An unexpanded Azure DevOps macro is unset.
    const dev = fakes();
    const d = runScript("stack-secrets.sh", ["dev"], dev, { DCS_IMAGE_PULL_SECRETS: JSON.stringify({ gpu: "s3cr3t-gpu" }) });
    expect(d.status, d.stderr).toBe(0);
    expect(calls(dev)).toEqual([]);
    expect(d.stderr).toContain("image gpu, which takes no pull secret of its own (it pulls with dcs:pullIdentity)");
    const macro = fakes();
    expect(runScript("stack-secrets.sh", [stack], macro, { DCS_IMAGE_PULL_SECRETS: "$(DCS_IMAGE_PULL_SECRETS)" }).status).toBe(0);
    expect(calls(macro)).toEqual([]);
    // Not JSON, or a value that is no string: fails, naming no value.
    for (const value of ['{"gpu": s3cr3t', JSON.stringify({ gpu: 42 }), JSON.stringify(["s3cr3t"])]) {
      const dir = fakes();
      const r = runScript("stack-secrets.sh", [stack], dir, { DCS_IMAGE_PULL_SECRETS: value });
      expect(r.status, value).toBe(1);
      expect(r.stdout + r.stderr).not.toContain("s3cr3t");
      expect(calls(dir)).toEqual([]);
    }
  });
});
