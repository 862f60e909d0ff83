/**
 * The GPU cluster image's build context (infra/image-gpu).
 *
 * Without Docker: the Dockerfile read as Docker reads it (every FROM pinned to
 * linux/amd64, the base and its defaults against NVIDIA's, PyTorch's and
 * RAPIDS' published figures, the packages Databricks needs, the
 * /databricks/python3 virtualenv, labels after the last RUN, no `latest`), the
 * requirements (every line an exact pin, torch's CUDA build = the CUDA
 * default's, Dask = what dask-cuda's RAPIDS release pins), the context as the
 * program's build-context rules accept it, and the files it shares with
 * infra/image byte for byte.
 *
 * With Docker (no GPU and no Docker Hub here): the real Dockerfile built on the
 * debootstrap stand-in of the launch rehearsal (scripts/rehearse-standin-base.sh:
 * Debian bookworm with Debian's Dask), so the CUDA layer is absent and the
 * Python environment is swapped, through the Dockerfile's own REQUIREMENTS and
 * PIP_OFFLINE arguments, for pins the stand-in already has. Everything else of
 * the recipe runs as written: the apt packages, the virtualenv, the lock, the
 * requirements check, the helper, the labels. Then the image is run: bash, ip,
 * ps, sudo, java, the virtualenv's python and pip, `import dcs_dask`. This part
 * fails, it does not skip, when no Docker engine answers (unless .ci/run says
 * it could start none, DCS_REHEARSAL_UNAVAILABLE, as for test/rehearse.test.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contextEntries } from "../components/buildContext";
import { compareVersions, cudaDriverNote, cudaDriverProblem, DEFAULT_CUDA, DEFAULT_CUDA_UBUNTU, RUNTIME_GPU_FACTS } from "../components/gpu";
import {
  argDefaults,
  CPU_IMAGE_DIR,
  cudaWheelTag,
  dockerInstructions,
  dockerStages,
  GPU_FACTS,
  GPU_IMAGE_DIR,
  normalize,
  pinsOf,
  requirementLines,
} from "./helpers/gpu-image";
import { docker, engineProblem, standinBase } from "./helpers/rehearse";

const dockerfile = fs.readFileSync(path.join(GPU_IMAGE_DIR, "Dockerfile"), "utf8");
const instructions = dockerInstructions(dockerfile);
const { globalArgs, stages } = dockerStages(instructions);
const final = stages[stages.length - 1];
const defaults = argDefaults(globalArgs);
const stageDefaults = argDefaults(final);
const requirements = requirementLines(path.join(GPU_IMAGE_DIR, "requirements.txt"));
const pins = pinsOf(requirements);
const CUDA = defaults.get("CUDA_VERSION") ?? "";
const PYTHON = stageDefaults.get("PYTHON_VERSION") ?? "";
const RUNTIME = stageDefaults.get("RUNTIME_TAG") ?? "";
const aptInstall = final.find((l) => /apt-get install/.test(l)) ?? "";

describe("Dockerfile", () => {
  it("pins every FROM to linux/amd64 and builds one stage on BASE_IMAGE", () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^FROM --platform=linux\/amd64 \S+/);
    expect(stages).toHaveLength(1);
    expect(final[0]).toBe("FROM --platform=linux/amd64 ${BASE_IMAGE}");
  });

  it("defaults BASE_IMAGE to NVIDIA's CUDA runtime image of the CUDA and Ubuntu defaults", () => {
    expect([...defaults.keys()]).toEqual(["CUDA_VERSION", "UBUNTU_RELEASE", "BASE_IMAGE"]);
    expect(defaults.get("BASE_IMAGE")).toBe("nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu${UBUNTU_RELEASE}");
    expect(CUDA).toMatch(/^\d+\.\d+\.\d+$/);
    // The Ubuntu of the runtime the image pairs with, and a tag NVIDIA publishes for it.
    expect(defaults.get("UBUNTU_RELEASE")).toBe(GPU_FACTS.runtimes[RUNTIME]?.ubuntu);
    expect(GPU_FACTS.ubuntu2404RuntimeTags).toContain(CUDA);
  });

  it("agrees with the program's defaults (components/gpu.ts): the CUDA, Ubuntu and Python the stack passes when it names none", () => {
    expect(CUDA).toBe(DEFAULT_CUDA);
    expect(defaults.get("UBUNTU_RELEASE")).toBe(DEFAULT_CUDA_UBUNTU);
    expect(PYTHON).toBe(RUNTIME_GPU_FACTS[RUNTIME.replace(/-LTS$/, "")].python);
    // The program's driver figure for the runtime runs this CUDA (its major release's floor), only through minor version compatibility.
    const driver = RUNTIME_GPU_FACTS[RUNTIME.replace(/-LTS$/, "")].driver;
    expect(cudaDriverProblem(CUDA, driver)).toBeUndefined();
    expect(cudaDriverNote(CUDA, driver)).toMatch(/minor version compatibility/);
    expect(driver).toBe(GPU_FACTS.databricksDriverSeen);
  });

  it("defaults to a CUDA that the Databricks GPU nodes' driver runs, per NVIDIA's published driver figures", () => {
    const toolkitDriver = GPU_FACTS.toolkitDriver[CUDA];
    expect(toolkitDriver, `no published toolkit driver figure for CUDA ${CUDA} in GPU_FACTS`).toBeDefined();
    const range = GPU_FACTS.minorVersionCompatibility[CUDA.split(".")[0]];
    expect(range, `CUDA ${CUDA} has no minor-version compatibility range`).toBeDefined();
    // The driver seen on Databricks GPU nodes is inside the range in which any
    // CUDA 12.x runtime runs (README: "The GPU image", which also says why the
    // default CUDA's own toolkit figure is above it).
    expect(compareVersions(GPU_FACTS.databricksDriverSeen, range.from)).toBeGreaterThanOrEqual(0);
    expect(compareVersions(GPU_FACTS.databricksDriverSeen, range.below)).toBeLessThan(0);
    // No Ubuntu 24.04 runtime image has a toolkit figure at or under that driver:
    // the lowest published one is what the default must be, if not below.
    const lowest = GPU_FACTS.ubuntu2404RuntimeTags.filter((t) => GPU_FACTS.toolkitDriver[t]).sort((a, b) => compareVersions(GPU_FACTS.toolkitDriver[a], GPU_FACTS.toolkitDriver[b]));
    const withTorch = lowest.filter((t) => Object.values(GPU_FACTS.torch).some((r) => r.cuda.includes(cudaWheelTag(t))));
    expect(CUDA).toBe(withTorch[0]);
  });

  it("declares every build argument the program passes, with the runtime's defaults", () => {
    const declared = new Set([...globalArgs, ...final].map((l) => /^ARG (\w+)/.exec(l)?.[1]).filter(Boolean));
    for (const arg of ["BASE_IMAGE", "RUNTIME_TAG", "CUDA_VERSION", "PYTHON_VERSION", "IMAGE_SOURCE", "IMAGE_REVISION", "IMAGE_VERSION"]) expect(declared.has(arg), arg).toBe(true);
    expect(RUNTIME).toBe("16.4-LTS");
    expect(PYTHON).toBe(GPU_FACTS.runtimes[RUNTIME].python);
    // The stage re-declares the global ARGs it reads (a FROM-line ARG is not seen after FROM).
    for (const name of ["CUDA_VERSION", "BASE_IMAGE"]) expect(stageDefaults.has(name), name).toBe(true);
  });

  it("installs what Databricks needs of an image: bash, iproute2, coreutils, procps, sudo, acl, fuse, a JDK 17, the runtime's Python with venv", () => {
    expect(aptInstall).toMatch(/apt-get install --yes --no-install-recommends /);
    const packages = aptInstall.split(/[\s;]+/);
    for (const pkg of ["bash", "coreutils", "procps", "iproute2", "sudo", "acl", "fuse", "ca-certificates", `openjdk-${GPU_FACTS.runtimes[RUNTIME].jdk}-jdk-headless`, '"python${PYTHON_VERSION}"', '"python${PYTHON_VERSION}-venv"'])
      expect(packages, pkg).toContain(pkg);
    // NVIDIA's apt list is switched off before apt runs (no CUDA package moves), and apt leaves no lists behind.
    expect(aptInstall).toMatch(/mv "\$list" "\$list\.disabled".*apt-get update/);
    expect(aptInstall).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    // databricksruntime/minimal's user for cluster library installation.
    expect(aptInstall).toMatch(/useradd libraries; usermod -L libraries/);
    expect(final).toContain("ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 PYSPARK_PYTHON=/databricks/python3/bin/python3");
  });

  it("makes /databricks/python3 a virtualenv of the runtime's Python, seeing system site-packages, with pip", () => {
    const venv = final.find((l) => /-m venv/.test(l)) ?? "";
    expect(venv).toMatch(/^RUN "python\$\{PYTHON_VERSION\}" -m venv --clear --system-site-packages \/databricks\/python3;/);
    expect(venv).toMatch(/assert v == '\$\{PYTHON_VERSION\}'/);
    expect(venv).toMatch(/\/databricks\/python3\/bin\/pip --version/);
    const install = final.find((l) => /pip install/.test(l)) ?? "";
    expect(install).toMatch(/\/databricks\/python3\/bin\/pip --disable-pip-version-check --no-cache-dir/);
    expect(install).toMatch(/-r \/databricks\/dcs\/requirements\.txt/);
    expect(install).toMatch(/pip freeze --local > \/databricks\/dcs\/requirements\.lock/);
    expect(install).toMatch(/check_requirements\.py \/databricks\/dcs\/requirements\.txt/);
    // Online: PyPI plus the PyTorch index of the CUDA; offline only when asked.
    expect(install).toMatch(/index=\(--index-url "\$PYPI_INDEX_URL" --extra-index-url "\$TORCH_INDEX_URL\/\$cuda_tag"\)/);
    expect(install).toMatch(/if \[\[ -n "\$PIP_OFFLINE" \]\]; then index=\(--no-index\)/);
    expect(stageDefaults.get("PIP_OFFLINE")).toBe("");
    expect(stageDefaults.get("REQUIREMENTS")).toBe("requirements.txt");
    expect(stageDefaults.get("TORCH_INDEX_URL")).toBe("https://download.pytorch.org/whl");
  });

  it("declares the per-tag ARGs and the LABEL only after the last RUN, and labels CUDA, runtime and the OCI keys", () => {
    const lastRun = instructions.map((l) => l.startsWith("RUN ")).lastIndexOf(true);
    const perTag = /\bIMAGE_(REVISION|VERSION|SOURCE)\b|\bRUNTIME_TAG\b/;
    expect(instructions.slice(0, lastRun).filter((l) => perTag.test(l) || l.startsWith("LABEL "))).toEqual([]);
    const tail = instructions.slice(lastRun + 1);
    expect(tail.filter((l) => l.startsWith("ARG ")).map((l) => l.split(/[ =]/)[1]).sort()).toEqual(["BASE_IMAGE", "IMAGE_REVISION", "IMAGE_SOURCE", "IMAGE_VERSION", "RUNTIME_TAG"]);
    const label = tail.find((l) => l.startsWith("LABEL ")) ?? "";
    for (const [key, value] of [
      ["dcs.cuda.version", "${CUDA_VERSION}"],
      ["dcs.runtime", "${RUNTIME_TAG}"],
      ["dcs.python.version", "${PYTHON_VERSION}"],
      ["org.opencontainers.image.base.name", "${BASE_IMAGE}"],
      ["org.opencontainers.image.source", "${IMAGE_SOURCE}"],
      ["org.opencontainers.image.revision", "${IMAGE_REVISION}"],
      ["org.opencontainers.image.version", "${IMAGE_VERSION}"],
      ["solution", "xkp"],
    ])
      expect(label).toContain(`${key}="${value}"`);
    expect(label).toMatch(/org\.opencontainers\.image\.title="[^"]+"/);
  });

  it("relies on no CMD or ENTRYPOINT, pulls no `latest`, and names no frontend image (no Docker Hub here)", () => {
    expect(instructions.filter((l) => /^(CMD|ENTRYPOINT)\b/i.test(l))).toEqual([]);
    expect(dockerfile).not.toMatch(/:latest\b/);
    expect(dockerfile).not.toMatch(/^#\s*syntax=/m);
    expect(requirements.join("\n")).not.toMatch(/latest/i);
  });

  it("checks, before downloading anything, that the base's CUDA and torch's CUDA build are CUDA_VERSION's", () => {
    const install = final.find((l) => /pip install/.test(l)) ?? "";
    const check = install.indexOf('"$base_cuda" != "cuda-$cuda_minor"');
    const torch = install.indexOf('"$torch_tag" != "$cuda_tag"');
    expect(check).toBeGreaterThan(0);
    expect(torch).toBeGreaterThan(check);
    expect(install.indexOf("pip install")).toBeGreaterThan(torch);
  });
});

describe("requirements.txt", () => {
  it("pins every line exactly, once, without pyspark or conda", () => {
    for (const line of requirements) expect(line).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+]*$/);
    expect(pins.size).toBe(requirements.length);
    expect([...pins.keys()].filter((n) => n === "pyspark" || n.includes("conda"))).toEqual([]);
  });

  it("pins torch's CUDA build to the CUDA default's major.minor, from a PyTorch release that builds it for the runtime's Python", () => {
    const torch = pins.get("torch") ?? "";
    const [version, local] = torch.split("+");
    expect(local).toBe(cudaWheelTag(CUDA));
    const release = GPU_FACTS.torch[version.split(".").slice(0, 2).join(".")];
    expect(release, `torch ${version} is not in GPU_FACTS.torch`).toBeDefined();
    expect(release.cuda).toContain(local);
    expect(release.python).toContain(PYTHON);
  });

  it("pins Dask, dask-cuda and their RAPIDS pins as dask-cuda's release requires them, for the runtime's Python", () => {
    for (const needed of ["dask", "distributed", "dask-cuda", "rapids-dask-dependency", "dask-expr", "pynvml", "numba", "bokeh"]) expect([...pins.keys()], needed).toContain(needed);
    const series = (pins.get("dask-cuda") ?? "").split(".").slice(0, 2).join(".");
    const rapids = GPU_FACTS.rapids[series];
    expect(rapids, `dask-cuda ${series} is not in GPU_FACTS.rapids`).toBeDefined();
    expect(pins.get("rapids-dask-dependency")?.startsWith(`${series}.`)).toBe(true);
    expect(pins.get("dask")).toBe(rapids.dask);
    expect(pins.get("distributed")).toBe(rapids.dask);
    expect(pins.get("dask-expr")).toBe(rapids.daskExpr);
    expect(compareVersions(pins.get("pynvml") ?? "", rapids.pynvmlBelow)).toBeLessThan(0);
    expect(rapids.python).toContain(PYTHON);
  });

  it("keeps what a notebook needs at the runtime's versions (pandas excepted: dask-cuda's Dask needs pandas 2)", () => {
    // databricks/containers, branch release-16.4-LTS, ubuntu/python/requirements.txt.
    const runtime: Record<string, string> = { ipykernel: "6.28.0", ipython: "8.25.0", numpy: "1.26.4", pyarrow: "15.0.2", six: "1.16.0" };
    for (const [name, version] of Object.entries(runtime)) expect(`${name}==${pins.get(name)}`).toBe(`${name}==${version}`);
    expect(pins.get("pandas")).toMatch(/^2\./);
  });
});

describe("the build context", () => {
  it("is accepted by the program's build-context rules and lets in exactly what the Dockerfile takes", () => {
    const entries = contextEntries(GPU_IMAGE_DIR).map((e) => e.path);
    expect(entries.sort()).toEqual([".dockerignore", "Dockerfile", "check_requirements.py", "dcs_dask.py", "requirements.txt"]);
    const fromContext = new Set(["Dockerfile", "requirements.txt"]); // COPY ${REQUIREMENTS}, requirements.txt by default
    for (const line of instructions) for (const m of line.matchAll(/--mount=type=bind,(?![^ ]*from=)[^ ]*source=([^, ]+)/g)) fromContext.add(m[1]);
    expect(entries.filter((e) => e !== ".dockerignore").sort()).toEqual([...fromContext].sort());
    for (const file of fs.readdirSync(GPU_IMAGE_DIR)) expect(fs.statSync(path.join(GPU_IMAGE_DIR, file)).mode & 0o777, file).toBe(0o644);
  });

  it("carries byte-identical copies of infra/image's dcs_dask.py and check_requirements.py", () => {
    // Docker reads nothing outside a build context, so the GPU context keeps its
    // own copies; this keeps them from drifting (infra/README.md, "The GPU image").
    for (const file of ["dcs_dask.py", "check_requirements.py"]) {
      expect(fs.readFileSync(path.join(GPU_IMAGE_DIR, file)).equals(fs.readFileSync(path.join(CPU_IMAGE_DIR, file))), `${file} differs from infra/image/${file}: copy it again`).toBe(true);
    }
  });
});

/** Set by .ci/run only when no Docker engine could be started there; without it, a missing engine fails these tests. */
const unavailable = process.env.DCS_REHEARSAL_UNAVAILABLE;
const onDocker = unavailable ? describe.skip : describe;
const SUFFIX = Math.random().toString(36).slice(2, 10).replace(/[^a-z0-9]/g, "x");

onDocker(unavailable ? `the GPU image built on the stand-in base (NOT RUN: ${unavailable})` : "the GPU image built on the stand-in base, without the CUDA layer", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-gpu-image-test-"));
  const label = `dcs.gpu-image.test=${SUFFIX}`;
  const ref = `dcs-gpu-image-test:${SUFFIX}`;
  const context = path.join(tmp, "context");
  // Named for this run: REQUIREMENTS is an ARG of the install step, so a new
  // name makes BuildKit run the install, its check and the helper step in every
  // test run (their output is what the first test reads), while the apt and
  // virtualenv layers above may come from the cache of an earlier run.
  const standinRequirements = `requirements.standin-${SUFFIX}.txt`;
  let base = "";
  let standinPins: string[] = [];
  let build = { code: -1, stdout: "", stderr: "" };

  /** The build as the test runs it: the stand-in base and the offline swap, plus `extra` arguments. */
  const buildArgs = (extra: Record<string, string> = {}) => {
    const args: Record<string, string> = {
      BASE_IMAGE: base,
      RUNTIME_TAG: "16.4-LTS",
      CUDA_VERSION: CUDA,
      // The stand-in is Debian 12, whose Python is 3.11 (Ubuntu 24.04's is the runtime's 3.12).
      PYTHON_VERSION: "3.11",
      REQUIREMENTS: standinRequirements,
      PIP_OFFLINE: "1",
      IMAGE_SOURCE: "https://example.invalid/dcs-platform",
      IMAGE_REVISION: `rev-${SUFFIX}`,
      IMAGE_VERSION: `gpu-${SUFFIX}`,
      ...extra,
    };
    return Object.entries(args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
  };

  // --network host: the engine here runs with --ip-forward=false
  // (scripts/start-dockerd.sh), so a build step on the default bridge has no
  // route out; on the host's network apt reaches the Debian mirror that the
  // stand-in's sources name (the one this machine's apt uses).
  const dockerBuild = (tag: string, extra: Record<string, string> = {}) =>
    docker(["build", "--progress", "plain", "--network", "host", "--platform", "linux/amd64", "--label", label, ...buildArgs(extra), "-t", tag, context], undefined, 400_000);

  const inImage = (script: string) => docker(["run", "--rm", "--network", "none", "--entrypoint", "bash", ref, "-c", script], undefined, 60_000);

  beforeAll(() => {
    const problem = engineProblem();
    if (problem) throw new Error(`building the GPU image: ${problem}`);
    base = standinBase();
    // The real context, plus a requirements file whose pins the stand-in's Python already has (Debian's Dask).
    fs.cpSync(GPU_IMAGE_DIR, context, { recursive: true });
    const versions = docker(["run", "--rm", "--network", "none", "--entrypoint", "/databricks/python3/bin/python", base, "-c", "import importlib.metadata as m; print('\\n'.join(d + '==' + m.version(d) for d in ('dask', 'distributed', 'numpy')))"]);
    if (versions.code !== 0) throw new Error(`reading the stand-in's Dask failed: ${versions.stderr}`);
    standinPins = versions.stdout.trim().split("\n");
    fs.writeFileSync(path.join(context, standinRequirements), `# Debian's Dask in the stand-in (test/gpu-image.test.ts)\n${standinPins.join("\n")}\n`, { mode: 0o644 });
    build = dockerBuild(ref);
  }, 600_000);

  afterAll(() => {
    const images = docker(["image", "ls", "--filter", `label=${label}`, "--format", "{{.ID}}"]).stdout.split("\n").filter(Boolean);
    if (images.length > 0) docker(["image", "rm", "--force", ...images]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it("builds from the real Dockerfile, saying the CUDA layer is absent, with the swapped pins installed, checked and locked", () => {
    const log = build.stdout + build.stderr;
    expect(build.code, log.slice(-4000)).toBe(0);
    expect(log).toMatch(/CUDA layer: absent \(no \/usr\/local\/cuda in this base; a stand-in\?\)/);
    for (const pin of standinPins) expect(log).toContain(`ok    ${pin} imports as ${normalize(pin.split("==")[0]).replace(/-/g, "_")}`);
    expect(log).toContain("ok    pyspark is not installed (the runtime injects it)");
    const lock = inImage("cat /databricks/dcs/requirements.lock; echo ---; cat /databricks/dcs/requirements.txt");
    expect(lock.code, lock.stderr).toBe(0);
    expect(lock.stdout.split("---")[1]).toContain(standinPins[0]);
  });

  it("is linux/amd64 and carries the labels of its build arguments", () => {
    const inspect = docker(["image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{json .Config.Labels}}", ref]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const [platform, json] = inspect.stdout.trim().split(/ (.*)/s);
    expect(platform).toBe("linux/amd64");
    expect(JSON.parse(json)).toMatchObject({
      "dcs.cuda.version": CUDA,
      "dcs.runtime": "16.4-LTS",
      "dcs.python.version": "3.11",
      "org.opencontainers.image.base.name": base,
      "org.opencontainers.image.source": "https://example.invalid/dcs-platform",
      "org.opencontainers.image.revision": `rev-${SUFFIX}`,
      "org.opencontainers.image.version": `gpu-${SUFFIX}`,
      solution: "xkp",
    });
  });

  it("runs what Databricks uses: bash, ip, ps, sudo, java 17, the virtualenv's python and pip, and imports dcs_dask", () => {
    const r = inImage(
      [
        "set -e",
        'echo "bash $BASH_VERSION"',
        "ip -V",
        "ps -p 1 -o comm=",
        "sudo -n true && echo sudo-ok",
        "java -version 2>&1 | head -n 1",
        'echo "JAVA_HOME=$JAVA_HOME PYSPARK_PYTHON=$PYSPARK_PYTHON"',
        "/databricks/python3/bin/python -c 'import sys; print(sys.prefix, sys.base_prefix)'",
        "/databricks/python3/bin/pip --version",
        "/databricks/python3/bin/python -B -c 'import dcs_dask, distributed; print(\"dcs_dask at\", dcs_dask.__file__)'",
        "id -u libraries",
        "command -v setfacl fusermount",
      ].join("\n"),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^bash 5\./m);
    expect(r.stdout).toMatch(/^ip utility, iproute2/m);
    expect(r.stdout).toMatch(/^sudo-ok$/m);
    expect(r.stdout).toMatch(/^openjdk version "17\./m);
    expect(r.stdout).toContain("JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 PYSPARK_PYTHON=/databricks/python3/bin/python3");
    expect(r.stdout).toMatch(/^\/databricks\/python3 \/usr$/m);
    expect(r.stdout).toMatch(/^pip \S+ from \/databricks\/python3\/lib\/python3\.11\/site-packages\/pip /m);
    expect(r.stdout).toContain("dcs_dask at /databricks/python3/lib/python3.11/site-packages/dcs_dask.py");
    expect(r.stdout).toMatch(/\/usr\/bin\/setfacl\n\/usr\/bin\/fusermount/);
  });

  it("refuses, before pip runs, requirements whose torch is built for another CUDA", () => {
    fs.writeFileSync(path.join(context, "requirements.mismatch.txt"), "torch==2.7.1+cu121\n", { mode: 0o644 });
    const r = dockerBuild(`dcs-gpu-image-test:mismatch-${SUFFIX}`, { REQUIREMENTS: "requirements.mismatch.txt", CUDA_VERSION: "12.6.3" });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("requirements pin torch's cu121 build, but CUDA_VERSION 12.6.3 needs cu126");
    expect(r.stdout + r.stderr).not.toMatch(/Requirement already satisfied|Looking in links|Collecting torch/);
  }, 300_000);
});
