/**
 * The cluster image's build context (infra/image), checked without building:
 * no Docker Hub and no PyPI here, so the Databricks base and the wheels cannot
 * be fetched. What can run does run: shellcheck, the requirements checker with
 * a real Python (Debian's, with dask), and the smoke-test script itself (with
 * infra/image-checks.sh, the checks it runs), whose only stand-in is the
 * `docker` command they call.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { baseImage, planImageBuild } from "../components/clusterImage";
import { ROOT, run, SYSTEM_PYTHON } from "./helpers/processes";

const IMAGE_DIR = path.join(ROOT, "infra", "image");
const SMOKE_TEST = path.join(IMAGE_DIR, "smoke-test.sh");
const IMAGE_CHECKS = path.join(ROOT, "infra", "image-checks.sh");
const CHECKER = path.join(IMAGE_DIR, "check_requirements.py");
const dockerfile = fs.readFileSync(path.join(IMAGE_DIR, "Dockerfile"), "utf8");
/** Dockerfile instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .filter((l) => l.trim() && !l.trimStart().startsWith("#"));
/** Instructions per stage (the ARGs before the first FROM are not a stage). */
const stages = instructions.reduce<string[][]>((acc, line) => (line.startsWith("FROM ") ? [...acc, [line]] : acc.length ? [...acc.slice(0, -1), [...acc[acc.length - 1], line]] : acc), []);
const [builder, final] = stages;
/** The ARGs before the first FROM: the only variables a FROM line can read. */
const globalArgs = instructions.slice(0, instructions.findIndex((l) => l.startsWith("FROM ")));
const finalText = final.join("\n");

const requirementLines = fs
  .readFileSync(path.join(IMAGE_DIR, "requirements.txt"), "utf8")
  .split("\n")
  .map((l) => l.replace(/#.*/, "").trim())
  .filter(Boolean);
const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");
const pins = new Map(requirementLines.map((l) => [normalize(l.split("==")[0]), l.split("==")[1]]));

/** Version of a distribution installed under Debian's Python. */
function debianVersion(distribution: string): string {
  const r = spawnSync(SYSTEM_PYTHON, ["-c", `import importlib.metadata as m; print(m.version(${JSON.stringify(distribution)}))`]);
  return r.stdout.toString().trim();
}

describe("Dockerfile", () => {
  it("builds in two stages on BASE_IMAGE, by default databricksruntime/standard at RUNTIME_TAG (pinned default), linux/amd64", () => {
    expect(stages).toHaveLength(2);
    expect(builder[0]).toBe("FROM --platform=linux/amd64 ${BASE_IMAGE} AS wheels");
    expect(final[0]).toBe("FROM --platform=linux/amd64 ${BASE_IMAGE}");
    expect(globalArgs).toEqual(["ARG RUNTIME_TAG=16.4-LTS", "ARG BASE_IMAGE=databricksruntime/standard:${RUNTIME_TAG}"]);
    const defaultTag = /^ARG RUNTIME_TAG=(\S+)$/.exec(globalArgs[0])?.[1];
    expect(defaultTag).toMatch(/^\d+\.\d+-LTS$/);
  });

  it("defaults BASE_IMAGE to exactly what the ClusterImage component passes when no digest is pinned", () => {
    const defaultBase = /^ARG BASE_IMAGE=(\S+)$/.exec(globalArgs[1])?.[1] ?? "";
    const { buildArgs } = planImageBuild({ context: IMAGE_DIR, runtime: "16.4-LTS", projectRoot: ROOT });
    expect(defaultBase.replace("${RUNTIME_TAG}", buildArgs.RUNTIME_TAG)).toBe(buildArgs.BASE_IMAGE);
    expect(defaultBase.replace("${RUNTIME_TAG}", buildArgs.RUNTIME_TAG)).toBe(baseImage("16.4-LTS"));
  });

  it("defaults to the runtime the committed stacks run", () => {
    for (const stack of ["dev", "prod"]) {
      const config = parseYaml(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
      expect(config["dcs:image"].runtime, stack).toBe("16.4-LTS");
      expect(config["dcs:clusters"].dask.sparkVersion, stack).toBe("16.4.x-scala2.12");
    }
  });

  it("declares every build argument the ClusterImage component passes, and labels the image with them and solution=xkp", () => {
    const { buildArgs } = planImageBuild({ context: IMAGE_DIR, runtime: "16.4-LTS", source: "https://example.invalid/dcs", baseDigest: `sha256:${"a".repeat(64)}`, projectRoot: ROOT });
    expect(Object.keys(buildArgs).sort()).toEqual(["BASE_IMAGE", "IMAGE_REVISION", "IMAGE_SOURCE", "IMAGE_VERSION", "RUNTIME_TAG"]);
    const declared = new Set([...globalArgs, ...final].map((l) => /^ARG (\w+)/.exec(l)?.[1]).filter(Boolean));
    for (const arg of Object.keys(buildArgs)) expect(declared.has(arg), arg).toBe(true);
    const label = final.find((l) => l.startsWith("LABEL ")) ?? "";
    for (const [key, value] of [
      ["org.opencontainers.image.source", "${IMAGE_SOURCE}"],
      ["org.opencontainers.image.revision", "${IMAGE_REVISION}"],
      ["org.opencontainers.image.version", "${IMAGE_VERSION}"],
      ["org.opencontainers.image.base.name", "docker.io/${BASE_IMAGE}"],
    ])
      expect(label).toContain(`${key}="${value}"`);
    expect(label).toMatch(/org\.opencontainers\.image\.title="[^"]+"/);
    expect(label).toMatch(/(^|\s)solution="xkp"/);
  });

  it("declares every variable where it is used: FROM lines read global ARGs, other instructions their stage's ARGs", () => {
    const globalNames = globalArgs.map((l) => /^ARG (\w+)/.exec(l)?.[1]);
    for (const stage of stages) {
      const seen = new Set<string>();
      for (const line of stage) {
        const uses = [...line.replace(/^RUN .*/, "").matchAll(/\$\{?(\w+)/g)].map((m) => m[1]);
        for (const name of uses) expect(line.startsWith("FROM ") ? globalNames : [...seen], `${name} in: ${line}`).toContain(name);
        const arg = /^ARG (\w+)/.exec(line);
        if (arg) seen.add(arg[1]);
      }
    }
  });

  it("declares the per-tag ARGs and the LABEL only after the last RUN, so a new tag cannot re-run the install", () => {
    // An ARG changes the cache key of every RUN below it, and a LABEL above a
    // RUN puts metadata under the install: both must come after the last RUN.
    const lastRun = instructions.map((l) => l.startsWith("RUN ")).lastIndexOf(true);
    expect(lastRun).toBeGreaterThan(instructions.indexOf(final[0]));
    const perTag = /\bIMAGE_(REVISION|VERSION|SOURCE)\b/;
    const early = instructions.slice(0, lastRun).filter((l) => perTag.test(l) || l.startsWith("LABEL "));
    expect(early).toEqual([]);
    expect(instructions.slice(lastRun + 1).filter((l) => perTag.test(l) && l.startsWith("ARG ")).map((l) => l.split(/[ =]/)[1]).sort()).toEqual(["IMAGE_REVISION", "IMAGE_SOURCE", "IMAGE_VERSION"]);
    expect(instructions.slice(lastRun + 1).some((l) => l.startsWith("LABEL "))).toBe(true);
  });

  it("relies on no CMD or ENTRYPOINT (Databricks ignores them)", () => {
    expect(instructions.filter((l) => /^(CMD|ENTRYPOINT)\b/i.test(l))).toEqual([]);
  });

  it("resolves against the base's own pins in the builder and builds wheels only for what is missing", () => {
    const text = builder.join("\n");
    expect(text).toMatch(/pip list --local --format=freeze > base-constraints\.txt/);
    expect(text).toMatch(/pip install --dry-run .*--report report\.json\s+-r requirements\.txt -c base-constraints\.txt/);
    expect(text).toMatch(/pip wheel .*--no-deps --wheel-dir wheels -r missing\.txt/);
    expect(text).toMatch(/\/databricks\/python3\/bin\/pip --disable-pip-version-check --no-cache-dir/);
  });

  it("installs into /databricks/python3 with its own pip, offline, from bind-mounted wheels, leaving no compiler, wheel or cache", () => {
    expect(finalText).toMatch(/--mount=type=bind,from=wheels,source=\/build\/wheels,target=\/tmp\/dcs-wheels/);
    expect(finalText).toMatch(/\/databricks\/python3\/bin\/pip --disable-pip-version-check --no-cache-dir/);
    expect(finalText).toMatch(/pip install --no-index --find-links \/tmp\/dcs-wheels .*-r \/databricks\/dcs\/requirements\.txt -c \/tmp\/base-constraints\.txt/);
    expect(finalText).not.toMatch(/apt-get|apt |build-essential|gcc|conda/);
    expect(final.filter((l) => /^(COPY --from|ADD)\b/.test(l))).toEqual([]);
    expect(finalText).toMatch(/rm -rf "\$check_home" \/tmp\/base-constraints\.txt/);
  });

  it("takes from the build context only what .dockerignore lets in, and lets in nothing else", () => {
    const ignore = fs
      .readFileSync(path.join(IMAGE_DIR, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(ignore[0]).toBe("*");
    const admitted = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1));
    expect(admitted.every((p) => !/[*?[]/.test(p)), "admitted entries are plain file names").toBe(true);
    const fromContext = new Set(["Dockerfile"]);
    for (const line of instructions) {
      const copy = /^COPY (?!--from)(\S+) /.exec(line);
      if (copy) fromContext.add(copy[1]);
      for (const mount of line.matchAll(/--mount=type=bind,(?![^ ]*from=)[^ ]*source=([^, ]+)/g)) fromContext.add(mount[1]);
    }
    expect(admitted.sort()).toEqual([...fromContext].sort());
    for (const file of fs.readdirSync(IMAGE_DIR)) if (!admitted.includes(file) && file !== ".dockerignore") expect(["smoke-test.sh"]).toContain(file);
  });
});

describe("requirements.txt", () => {
  it("pins every package exactly, once", () => {
    for (const line of requirementLines) expect(line).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.]*$/);
    expect(pins.size).toBe(requirementLines.length);
  });

  it("is the hydrology environment, without pyspark or conda", () => {
    for (const needed of ["dask", "distributed", "bokeh", "xarray", "zarr", "pandas", "scipy", "numpy", "cftime"]) expect([...pins.keys()]).toContain(needed);
    expect(pins.has("netcdf4") || pins.has("h5netcdf")).toBe(true);
    expect(pins.get("dask")).toBe(pins.get("distributed"));
    expect([...pins.keys()].filter((n) => n === "pyspark" || n.includes("conda"))).toEqual([]);
  });

  it("keeps the versions databricksruntime/standard:16.4-LTS ships (the build refuses to move them)", () => {
    // From databricks/containers, branch release-16.4-LTS, ubuntu/python/requirements.txt.
    const base: Record<string, string> = { numpy: "1.26.4", pandas: "1.5.3", scipy: "1.13.1", matplotlib: "3.8.4", pyarrow: "15.0.2", "scikit-learn": "1.4.2", cloudpickle: "2.2.1", tornado: "6.4.1", psutil: "5.9.0" };
    for (const [name, version] of Object.entries(base)) if (pins.has(name)) expect(`${name}==${pins.get(name)}`).toBe(`${name}==${version}`);
  });
});

describe("check_requirements.py, run with a real Python", () => {
  const dask = debianVersion("dask");
  const yaml = debianVersion("PyYAML");

  it("passes when every pin is installed at its version and imports, mapping distribution names to modules", async () => {
    const r = await run(SYSTEM_PYTHON, ["-B", CHECKER, `dask==${dask}`, `pyyaml==${yaml}`], { PATH: process.env.PATH });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`ok    dask==${dask} imports as dask`);
    expect(r.stdout).toContain(`ok    pyyaml==${yaml} imports as yaml`);
    expect(r.stdout).toContain("ok    pyspark is not installed");
  });

  it("fails on another version, a missing distribution, or a pin that is not exact", async () => {
    const r = await run(SYSTEM_PYTHON, ["-B", "-", "dask==0.0.1", "surely-not-installed==1.0"], { PATH: process.env.PATH }, 15_000, fs.readFileSync(CHECKER, "utf8"));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL  dask==0.0.1: version ${dask} is installed`);
    expect(r.stdout).toContain("FAIL  surely-not-installed==1.0: not installed");
    const loose = await run(SYSTEM_PYTHON, [CHECKER, "dask>=2024"], { PATH: process.env.PATH });
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain("not an exact pin");
  });
});

describe("smoke-test.sh", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-smoke-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // The stand-in for `docker`: logs its arguments; `image inspect` answers from
  // FAKE_* variables; `run --entrypoint <python> IMAGE ...` runs Debian's Python
  // (stdin passes through) and `run --entrypoint test IMAGE ...` runs test under FAKE_ROOT.
  const FAKE_DOCKER = `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$FAKE_DOCKER_LOG"
case "$1" in
  build) exit 0 ;;
  image)
    [[ -z "\${FAKE_MISSING:-}" ]] || exit 1
    case "$*" in
      *Architecture*) echo "$FAKE_PLATFORM" ;;
      *'"solution"'*) echo "$FAKE_SOLUTION" ;;
      *image.title*) echo "stand-in title" ;;
      *) echo "" ;;
    esac ;;
  run)
    shift
    while (($#)); do
      case "$1" in
        --entrypoint) entrypoint="$2"; shift 2 ;;
        --network | --platform) shift 2 ;;
        --rm | -i) shift ;;
        *) break ;;
      esac
    done
    shift
    if [[ "$entrypoint" == test ]]; then exec test "$1" "$FAKE_ROOT$2"; fi
    exec "$FAKE_PYTHON" "$@" ;;
  *) exit 3 ;;
esac
`;

  /** A copy of infra/image (in <ws>/image, beside a copy of infra/image-checks.sh) with its own requirements, and the stand-in docker on PATH; its folder. */
  function workspace(requirements: string): string {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    fs.copyFileSync(IMAGE_CHECKS, path.join(ws, "image-checks.sh"));
    const dir = path.join(ws, "image");
    fs.mkdirSync(dir);
    for (const f of ["Dockerfile", "check_requirements.py", "smoke-test.sh"]) fs.copyFileSync(path.join(IMAGE_DIR, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, "requirements.txt"), requirements);
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "docker"), FAKE_DOCKER, { mode: 0o755 });
    fs.mkdirSync(path.join(dir, "root", "databricks", "dcs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "root", "databricks", "dcs", "requirements.lock"), "dask==x\n");
    return dir;
  }

  async function smoke(dir: string, args: string[], fake: Record<string, string> = {}) {
    const log = path.join(dir, "docker.log");
    const env = {
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      FAKE_DOCKER_LOG: log,
      FAKE_PLATFORM: "linux/amd64",
      FAKE_SOLUTION: "xkp",
      FAKE_PYTHON: SYSTEM_PYTHON,
      FAKE_ROOT: path.join(dir, "root"),
      ...fake,
    };
    const r = await run("bash", [path.join(dir, "smoke-test.sh"), ...args], env, 30_000);
    return { ...r, docker: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
  }

  it("passes shellcheck", () => {
    const r = spawnSync("shellcheck", [SMOKE_TEST, IMAGE_CHECKS, path.join(ROOT, "infra", "smoke-test.sh")]);
    expect(r.error, "shellcheck must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout.toString(), r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
  });

  it("prints its usage, and refuses arguments it does not know", async () => {
    const help = await run("bash", [SMOKE_TEST, "--help"], { PATH: process.env.PATH });
    expect(help.code).toBe(0);
    for (const option of ["--image REF", "--runtime TAG", "--no-build", "default: 16.4-LTS"]) expect(help.stdout).toContain(option);
    for (const bad of [["--bogus"], ["--image"], ["--image", "--no-build"]]) {
      const r = await run("bash", [SMOKE_TEST, ...bad], { PATH: process.env.PATH });
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/unknown argument|needs a value/);
    }
  });

  it("builds for linux/amd64 on the runtime, then passes when every pin imports at its version", async () => {
    const dir = workspace(`# comment\ndask==${debianVersion("dask")}\ndistributed==${debianVersion("distributed")}\nnumpy==${debianVersion("numpy")}\n`);
    const r = await smoke(dir, ["--image", "reg.example/hydrology/dask:t1", "--runtime", "15.4-LTS"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.docker.split("\n")[0]).toBe(`build --platform linux/amd64 --build-arg RUNTIME_TAG=15.4-LTS -t reg.example/hydrology/dask:t1 ${dir}`);
    expect(r.docker).toMatch(/^run --rm -i --network none --platform linux\/amd64 --entrypoint \/databricks\/python3\/bin\/python reg\.example\/hydrology\/dask:t1 -B - dask==\S+ distributed==\S+ numpy==\S+$/m);
    expect(r.stdout).toContain("ok    platform is linux/amd64");
    expect(r.stdout).toContain("ok    label solution=xkp");
    expect(r.stdout).toMatch(/ok {4}distributed==\S+ imports as distributed/);
    expect(r.stdout).toContain("smoke-test: reg.example/hydrology/dask:t1 passed");
  });

  it("with --no-build builds nothing and fails, naming each check, on a wrong platform, label, version or package", async () => {
    const dir = workspace(`dask==0.0.1\nsurely-not-installed==1.0\n`);
    const r = await smoke(dir, ["--image", "x:y", "--no-build"], { FAKE_PLATFORM: "linux/arm64", FAKE_SOLUTION: "" });
    expect(r.code).toBe(1);
    expect(r.docker).not.toMatch(/^build/m);
    expect(r.stdout).toContain("FAIL  platform is linux/amd64 (got linux/arm64)");
    expect(r.stdout).toContain("FAIL  label solution=xkp (got '')");
    expect(r.stdout).toMatch(/FAIL {2}dask==0\.0\.1: version \S+ is installed/);
    expect(r.stdout).toContain("FAIL  surely-not-installed==1.0: not installed");
    expect(r.stderr).toContain("smoke-test: 3 check(s) failed for x:y");
  });

  it("fails when the image does not exist", async () => {
    const dir = workspace("dask==1\n");
    const r = await smoke(dir, ["--image", "nowhere:1", "--no-build"], { FAKE_MISSING: "1" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL  image nowhere:1 not found");
  });

  it("runs its checks from infra/image-checks.sh, which lies outside every build context and refuses bad usage or a context it cannot check", async () => {
    expect(fs.readFileSync(SMOKE_TEST, "utf8")).toMatch(/^exec bash "\$here\/\.\.\/image-checks\.sh" --image "\$image" --context "\$here" --as smoke-test$/m);
    for (const bad of [[], ["--image", "x:y"], ["--context", IMAGE_DIR], ["--image", "x:y", "--context", IMAGE_DIR, "--bogus"]]) {
      const r = await run("bash", [IMAGE_CHECKS, ...bad], { PATH: process.env.PATH });
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr).toContain("usage: infra/image-checks.sh --image REF --context DIR");
    }
    const missing = await run("bash", [IMAGE_CHECKS, "--image", "x:y", "--context", IMAGE_DIR, "--requirements", "requirements-nowhere.txt"], { PATH: process.env.PATH });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`image-checks: ${IMAGE_DIR}/requirements-nowhere.txt is missing`);
  });

  it("is still reachable at its old path, infra/smoke-test.sh, for the pipelines that call it there", async () => {
    const r = await run("bash", [path.join(ROOT, "infra", "smoke-test.sh"), "--help"], { PATH: process.env.PATH });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: infra/image/smoke-test.sh");
  });
});
