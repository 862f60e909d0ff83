/**
 * The cluster image's build context, checked statically, and the smoke-test
 * script run for real against a stand-in `docker` command: no Docker Hub here,
 * so the base image cannot be pulled; the stand-in answers `image inspect` from
 * its environment and runs `run --entrypoint PYTHON ...` with Debian's Python.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { readInitScripts } from "../components/initScripts";
import { DASK_PYTHON } from "./helpers/dask";
import { ROOT } from "./helpers/record";

const IMAGE_DIR = path.join(ROOT, "infra", "image");
const dockerfile = fs.readFileSync(path.join(IMAGE_DIR, "Dockerfile"), "utf8");
const requirements = fs
  .readFileSync(path.join(IMAGE_DIR, "requirements.txt"), "utf8")
  .split("\n")
  .map((l) => l.replace(/#.*/, "").trim())
  .filter(Boolean);
const stages = dockerfile.split(/^FROM /m).slice(1);

describe("Dockerfile", () => {
  it("builds in two stages, both on the pinned databricksruntime/standard, both linux/amd64", () => {
    expect(stages).toHaveLength(2);
    for (const stage of stages) expect(stage).toMatch(/^--platform=linux\/amd64 databricksruntime\/standard:\$\{RUNTIME_TAG\}/);
    const defaultTag = /^ARG RUNTIME_TAG=(\S+)$/m.exec(dockerfile)?.[1];
    expect(defaultTag).toBe("16.4-LTS");
    expect(defaultTag).not.toMatch(/latest/i);
  });

  it("matches the runtime of the committed stacks", () => {
    for (const stack of ["dev", "prod"]) {
      const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
      expect(text).toContain("runtime: 16.4-LTS");
      expect(text).toContain("sparkVersion: 16.4.x-scala2.12");
    }
  });

  it("keeps compilers and wheels out of the final stage", () => {
    const [builder, final] = stages;
    expect(builder).toMatch(/build-essential/);
    expect(builder).toMatch(/\/databricks\/python3\/bin\/pip wheel/);
    expect(final).not.toMatch(/build-essential|gcc|apt-get install/);
    expect(final).toMatch(/--mount=type=bind,from=wheels/);
    expect(final).toMatch(/\/databricks\/python3\/bin\/pip install --no-cache-dir --no-index/);
    expect(final).not.toMatch(/^COPY --from=/m);
  });

  it("labels the image with OCI labels fed by the build arguments the program passes, and solution=xkp", () => {
    for (const label of ["title", "source", "revision", "version"]) expect(dockerfile).toMatch(new RegExp(`org\\.opencontainers\\.image\\.${label}=`));
    expect(dockerfile).toMatch(/solution="xkp"/);
    for (const arg of ["RUNTIME_TAG", "IMAGE_SOURCE", "IMAGE_REVISION", "IMAGE_VERSION"]) expect(dockerfile).toMatch(new RegExp(`^ARG ${arg}`, "m"));
  });

  it("relies on no CMD or ENTRYPOINT (Databricks ignores them)", () => {
    expect(dockerfile).not.toMatch(/^\s*(CMD|ENTRYPOINT)\b/m);
  });
});

describe("requirements.txt", () => {
  it("pins every package exactly", () => {
    for (const line of requirements) expect(line).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.]*$/);
  });

  it("has the hydrology environment and no pyspark or conda", () => {
    const names = requirements.map((l) => l.split("==")[0].toLowerCase());
    for (const needed of ["dask", "distributed", "bokeh", "xarray", "zarr", "pandas", "scipy", "numpy"]) expect(names).toContain(needed);
    expect(names.some((n) => n === "netcdf4" || n === "h5netcdf")).toBe(true);
    expect(names).not.toContain("pyspark");
    expect(names.filter((n) => n.includes("conda"))).toEqual([]);
    const version = (n: string) => requirements.find((l) => l.toLowerCase().startsWith(`${n}==`))?.split("==")[1];
    expect(version("dask")).toBe(version("distributed"));
  });

  it("keeps the build context to what the build needs", () => {
    const ignore = fs.readFileSync(path.join(IMAGE_DIR, ".dockerignore"), "utf8");
    expect(ignore).toMatch(/^\*$/m);
    expect(ignore).toMatch(/^!Dockerfile$/m);
    expect(ignore).toMatch(/^!requirements\.txt$/m);
    expect(fs.readdirSync(IMAGE_DIR).sort()).toEqual([".dockerignore", "Dockerfile", "requirements.txt"]);
  });
});

describe("init scripts folder", () => {
  it("holds only executable, shebanged shell scripts", () => {
    const scripts = readInitScripts(path.join(ROOT, "infra", "init-scripts"));
    expect(scripts.map((s) => s.fileName)).toEqual(["init_script_dask.sh"]);
    for (const s of scripts) {
      expect(Buffer.from(s.contentBase64, "base64").toString().startsWith("#!/usr/bin/env bash\n")).toBe(true);
      expect(fs.statSync(path.join(ROOT, "infra", "init-scripts", s.fileName)).mode & 0o111).not.toBe(0);
    }
  });
});

describe("smoke-test.sh", () => {
  const run = promisify(execFile);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-smoke-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A copy of the script beside a requirements file, and a stand-in docker on PATH. */
  function workspace(requirementsText: string): string {
    const dir = fs.mkdtempSync(path.join(tmp, "ws-"));
    fs.mkdirSync(path.join(dir, "image"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.copyFileSync(path.join(ROOT, "infra", "smoke-test.sh"), path.join(dir, "smoke-test.sh"));
    fs.writeFileSync(path.join(dir, "image", "requirements.txt"), requirementsText);
    const shim = [
      "#!/usr/bin/env bash",
      'echo "docker $*" >> "$SHIM_LOG"',
      'case "$1 $2" in',
      '  "image inspect") case "$*" in *Architecture*) echo "$SHIM_PLATFORM" ;; *) echo "$SHIM_LABEL" ;; esac ;;',
      '  "run --rm") shift 2; while [[ "$1" != --entrypoint ]]; do shift; done; shift 2; shift; exec "$SHIM_PYTHON" "$@" ;;',
      '  *) exit 0 ;;',
      "esac",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "bin", "docker"), `${shim}\n`, { mode: 0o755 });
    return dir;
  }

  async function smoke(dir: string, args: string[], env: Record<string, string> = {}) {
    const log = path.join(dir, "docker.log");
    try {
      const { stdout } = await run("bash", [path.join(dir, "smoke-test.sh"), ...args], {
        env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, SHIM_LOG: log, SHIM_PLATFORM: "linux/amd64", SHIM_LABEL: "xkp", SHIM_PYTHON: DASK_PYTHON, ...env },
      });
      return { code: 0, stdout, docker: fs.readFileSync(log, "utf8") };
    } catch (e) {
      const err = e as { code: number; stdout: string };
      return { code: err.code, stdout: err.stdout, docker: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
    }
  }

  it("passes shellcheck and prints its usage", () => {
    const sc = spawnSync("shellcheck", [path.join(ROOT, "infra", "smoke-test.sh")]);
    expect(sc.status, sc.stdout.toString()).toBe(0);
    const help = spawnSync("bash", [path.join(ROOT, "infra", "smoke-test.sh"), "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout.toString()).toMatch(/--no-build/);
    expect(spawnSync("bash", [path.join(ROOT, "infra", "smoke-test.sh"), "--bogus"]).status).toBe(2);
  });

  it("builds for linux/amd64 with the runtime, then passes when every package imports", async () => {
    const dir = workspace("# comment\ndask==2024.8.0\ndistributed==2024.8.0\nnumpy==1.26.4\n");
    const r = await smoke(dir, ["--image", "reg.example/dask:t1", "--runtime", "15.4-LTS"]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.docker).toMatch(/docker build --platform linux\/amd64 --build-arg RUNTIME_TAG=15\.4-LTS -t reg\.example\/dask:t1 /);
    expect(r.stdout).toMatch(/ok {4}every requirement imports with \/databricks\/python3\/bin\/python: dask,distributed,numpy/);
    expect(r.stdout).toContain("smoke-test: reg.example/dask:t1 passed");
  });

  it("fails when a package does not import, the platform is wrong or the label is missing; --no-build builds nothing", async () => {
    const dir = workspace("dask==2024.8.0\nsurely-not-installed-pkg==1.0\n");
    const r = await smoke(dir, ["--image", "x:y", "--no-build"], { SHIM_PLATFORM: "linux/arm64", SHIM_LABEL: "" });
    expect(r.code).toBe(1);
    expect(r.docker).not.toMatch(/docker build/);
    expect(r.stdout).toMatch(/FAIL {2}platform is linux\/amd64 \(got linux\/arm64\)/);
    expect(r.stdout).toMatch(/FAIL {2}label solution=xkp/);
    expect(r.stdout).toMatch(/FAIL {2}every requirement imports .*surely_not_installed_pkg/);
  });
});
