import { describe, expect, it } from "vitest";
import { ConfigError, decodeConfigValue, readRawConfig, secretKeysNeeded } from "../stacks/config";
import { daskEnvVars } from "../stacks/dask";
import { devWithSecret, parse, parseTeam, problemsOf, SECRET, stackRaw, type Raw } from "./helpers/config";

describe("the committed stack files", () => {
  it("dev parses, with defaults applied", () => {
    const c = parseTeam(devWithSecret());
    expect(c.environment).toBe("dev");
    expect(c.registry).toMatchObject({ name: "dcshydrologydev", sku: "Basic", adminUserEnabled: false });
    expect(c.registryProtected).toBe(false);
    expect(c.containerServices.manage).toBe(false);
    expect(c.image.push.mode).toBe("dockerConfig");
    expect(c.dask).toMatchObject({ schedulerPort: 8786, dashboardPort: 8087, connectRetries: 60 });
    expect(c.clusters.dask.numWorkers).toBe(2);
    // Only the GPU image's CUDA note (test/config-gpu.test.ts).
    expect(c.warnings.map((w) => w.key)).toEqual(["dcs:images.gpu.gpu.cuda"]);
  });

  it("prod parses: protected registry, its platform stack (no switch of its own), its own secret scope, both secrets required", () => {
    const raw = stackRaw("prod");
    expect(secretKeysNeeded(Object.fromEntries(Object.entries(raw).map(([k, v]) => [`dcs:${k}`, v])))).toEqual(["pullClientSecret", "pushClientSecret"]);
    const c = parseTeam({ ...raw, pullClientSecret: "pull", pushClientSecret: "push" }, "prod");
    expect(c.environment).toBe("prod");
    expect(c.registryProtected).toBe(true);
    expect(c.containerServices.manage).toBe(false);
    expect(c.platform).toEqual({ stack: "organization/dcs-platform/platform-prod" });
    expect(c.pullIdentity.secretReference).toBeUndefined();
    expect(c.pullSecret).toEqual({ scope: "dcs-hydrology-prod", key: "acr-pull", readers: [], managers: [] });
    expect(c.image.push).toMatchObject({ mode: "servicePrincipal", objectId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it("sizes a Dask cluster with a fixed number of workers by default, and warns about autoscaling with the reason", () => {
    const raw = devWithSecret();
    delete raw.clusters.dask.numWorkers;
    expect(parseTeam(raw).clusters.dask).toMatchObject({ numWorkers: 2 });
    raw.clusters.dask.autoscale = { minWorkers: 1, maxWorkers: 4 };
    const c = parseTeam(raw);
    expect(c.clusters.dask.numWorkers).toBeUndefined();
    expect(c.warnings.filter((w) => w.key.startsWith("dcs:clusters."))).toEqual([{ key: "dcs:clusters.dask.autoscale", message: expect.stringMatching(/follows Spark's load, not Dask's.*prefer dcs:clusters.dask.numWorkers/) }]);
  });

  it("puts workers on spot by default in dev (the driver on demand), not in prod, and never on a pooled cluster", () => {
    expect(parseTeam(devWithSecret()).clusters.dask.spot).toBe(true);
    const prod = parseTeam({ ...stackRaw("prod"), pullClientSecret: "p", pushClientSecret: "q" }, "prod");
    for (const [name, cl] of Object.entries(prod.clusters)) expect(cl.spot, name).toBe(false);
    const pooled = devWithSecret();
    pooled.pools = { ...pooled.pools, warm: { nodeType: "Standard_D4ds_v5" } };
    delete pooled.clusters.dask.nodeType;
    pooled.clusters.dask.pool = { workers: "warm" };
    expect(parseTeam(pooled).clusters.dask.spot).toBe(false);
    // A single-node cluster is all driver: never spot, even in dev.
    const single = devWithSecret();
    delete single.clusters.dask.numWorkers;
    single.clusters.dask.singleNode = true;
    expect(parseTeam(single).clusters.dask).toMatchObject({ spot: false, numWorkers: undefined, singleNode: true });
  });

  it("defaults: digest references, 10 tags kept by a daily purge, a 300 s wait after new grants", () => {
    const c = parseTeam(devWithSecret());
    expect(c.clusters.dask.imageReference).toBe("digest");
    expect(c.registry).toMatchObject({ keepTags: 10, purgeSchedule: "0 3 * * *", grantWaitSeconds: 300 });
    expect(c.image.baseDigest).toBeUndefined();
  });
});

type Case = [title: string, mutate: (raw: Raw) => void, key: string, message: RegExp, stack?: string, secretKeys?: string[]];

const cases: Case[] = [
  ["registry name with a dash", (r) => (r.registry.name = "dcs-hydro-dev"), "dcs:registry.name", /5 to 50 letters and digits/],
  ["registry name too short", (r) => (r.registry.name = "abc"), "dcs:registry.name", /5 to 50/],
  ["unknown SKU", (r) => (r.registry.sku = "Ultra"), "dcs:registry.sku", /Basic|Standard|Premium/],
  ["admin user outside dev", (r) => (r.registry.adminUserEnabled = true), "dcs:registry.adminUserEnabled", /only be enabled in a dev stack/, "test"],
  ["autoscale max below min", (r) => { delete r.clusters.dask.numWorkers; r.clusters.dask.autoscale = { minWorkers: 4, maxWorkers: 2 }; }, "dcs:clusters.dask.autoscale.maxWorkers", /at least dcs:clusters.dask.autoscale.minWorkers/],
  ["both fixed size and autoscale", (r) => (r.clusters.dask.autoscale = { minWorkers: 1, maxWorkers: 3 }), "dcs:clusters.dask.numWorkers", /not both/],
  ["no worker for Dask", (r) => (r.clusters.dask.numWorkers = 0), "dcs:clusters.dask.numWorkers", /a Dask cluster needs at least one worker/],
  ["the dashboard on a port the driver proxy refuses", (r) => (r.dask.dashboardPort = 8787), "dcs:dask.dashboardPort", /driver proxy refuses this port.*8087/],
  ["log destination that is neither a volume nor DBFS", (r) => (r.clusters.dask.logDestination = "/tmp/logs"), "dcs:clusters.dask.logDestination", /\/Volumes\/<catalog>.*dbfs:\//],
  ["auto-termination above the cap", (r) => (r.clusters.dask.autoterminationMinutes = 240), "dcs:clusters.dask.autoterminationMinutes", /120-minute cap.*longRunning/],
  ["auto-termination too short", (r) => (r.clusters.dask.autoterminationMinutes = 5), "dcs:clusters.dask.autoterminationMinutes", /at least 10/],
  ["ML runtime", (r) => (r.clusters.dask.sparkVersion = "16.4.x-cpu-ml-scala2.12"), "dcs:clusters.dask.sparkVersion", /ML runtimes do not support custom containers/],
  ["runtime not matching the image", (r) => (r.clusters.dask.sparkVersion = "15.4.x-scala2.12"), "dcs:clusters.dask.sparkVersion", /does not match the image default built on 16.4-LTS \(dcs:image.runtime\)/],
  ["no cluster owner", (r) => delete r.clusters.dask.singleUserName, "dcs:clusters.dask.singleUserName", /required/],
  ["pull client id not a GUID", (r) => (r.pullIdentity.clientId = "hydro-sp"), "dcs:pullIdentity.clientId", /GUID/],
  ["no pull secret", (r) => delete r.pullClientSecret, "dcs:pullClientSecret", /pulumi config set --secret dcs:pullClientSecret/],
  ["pull secret in plain text", () => undefined, "dcs:pullClientSecret", /plain text/, "dev", []],
  ["pull secret and secret reference", (r) => (r.pullIdentity.secretReference = "{{secrets/dcs/pull}}"), "dcs:pullClientSecret", /not both/],
  ["malformed secret reference", (r) => { r.pullIdentity.secretReference = "secrets/dcs/pull"; delete r.pullClientSecret; }, "dcs:pullIdentity.secretReference", /\{\{secrets/],
  ["neither a workspace nor a platform stack", (r) => delete (r as Record<string, unknown>).platform, "dcs:workspace", /dcs:workspace.url or dcs:workspace.resourceId.*dcs:platform.stack/],
  ["workspace URL without https", (r) => { delete (r as Record<string, unknown>).platform; (r as Record<string, unknown>).workspace = { url: "http://adb-1.azuredatabricks.net" }; }, "dcs:workspace.url", /https:\/\//],
  ["a platform stack name that is no stack name", (r) => ((r as Record<string, unknown>).platform = { stack: "org/proj/stack/extra" }), "dcs:platform.stack", /<org>\/<project>\/<stack>/],
  ["volumes store without a path", (r) => (r.initScripts = { store: "volumes" } as never), "dcs:initScripts.path", /required for the volumes store/],
  ["unknown init-script store", (r) => (r.initScripts = { store: "s3" } as never), "dcs:initScripts.store", /workspace|volumes|dbfs/],
  ["DBFS path for the workspace store", (r) => (r.initScripts = { store: "workspace", path: "dbfs:/x" } as never), "dcs:initScripts.path", /absolute workspace folder/],
  ["misspelt cluster key", (r) => (r.clusters.dask.maxWorker = 3), "dcs:clusters.dask.maxWorker", /not a configuration key/],
  ["a secret under a non-secret key", (r) => (r.pullIdentity.clientSecret = "oops"), "dcs:pullIdentity.clientSecret", /set with `pulumi config set --secret`/],
  ["service-principal push without client id", (r) => (r.image.push = { mode: "servicePrincipal" }), "dcs:image.push.clientId", /required when dcs:image.push.mode is servicePrincipal/],
  ["admin push without the admin user", (r) => (r.image.push = { mode: "adminUser" }), "dcs:image.push.mode", /adminUserEnabled/],
  ["privileged scheduler port", (r) => (r.dask.schedulerPort = 80), "dcs:dask.schedulerPort", /1024 and 65535/],
  ["same scheduler and dashboard port", (r) => (r.dask.dashboardPort = 8786), "dcs:dask.dashboardPort", /must differ/],
  ["a node fraction above the whole node", (r) => (r.dask.nodeFraction = 1.5), "dcs:dask.nodeFraction", /at most 1/],
  ["team name with spaces", (r) => (r.team = "Hydrology Team" as never), "dcs:team", /lower-case team name/],
  ["stack name that is no environment", () => undefined, "dcs:environment", /not named dev, test or prod/, "staging"],
  ["image runtime that is not LTS", (r) => (r.image.runtime = "latest"), "dcs:image.runtime", /long-term-support runtime tag/],
  ["no location", (r) => delete r.location, "dcs:location", /required/],
  ["reserved cluster tag Name", (r) => (r.clusters.dask.tags = { Name: "mine" }), "dcs:clusters.dask.tags.Name", /reserved.*Vendor/],
  ["reserved tag ClusterId among the stack's tags", (r) => (r.tags = { ClusterId: "x" } as never), "dcs:tags.ClusterId", /Databricks sets on every cluster/],
  ["reserved cluster tag Creator", (r) => (r.clusters.dask.tags = { Creator: "me" }), "dcs:clusters.dask.tags.Creator", /reserved/],
  ["reserved tag in another case (Azure tag names ignore case)", (r) => (r.clusters.dask.tags = { name: "mine" }), "dcs:clusters.dask.tags.name", /reserved/],
  ["a DCS_ variable the program sets itself", (r) => (r.clusters.dask.sparkEnvVars = { DCS_INIT_SCRIPTS_SHA256: "x" }), "dcs:clusters.dask.sparkEnvVars.DCS_INIT_SCRIPTS_SHA256", /set by the program/],
  ["service-principal push without object id", (r) => (r.image.push = { mode: "servicePrincipal", clientId: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b" }), "dcs:image.push.objectId", /grants this service principal AcrPush/],
  ["push object id outside servicePrincipal mode", (r) => (r.image.push = { mode: "dockerConfig", objectId: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b" }), "dcs:image.push.objectId", /only used with/],
  ["a scope of its own and an external reference", (r) => { r.pullIdentity.secretReference = "{{secrets/sec/pull}}"; delete r.pullClientSecret; r.pullSecret = { scope: "mine" }; }, "dcs:pullSecret.scope", /declares no secret scope/],
  ["secret scope name with a space", (r) => (r.pullSecret = { scope: "dcs hydrology" }), "dcs:pullSecret.scope", /128 letters/],
  ["base digest without sha256", (r) => (r.image.baseDigest = "abc123"), "dcs:image.baseDigest", /sha256:<64 hex digits>/],
  ["image reference that is neither digest nor tag", (r) => (r.clusters.dask.imageReference = "latest"), "dcs:clusters.dask.imageReference", /digest|tag/],
  ["no tag kept", (r) => (r.registry.keepTags = 0), "dcs:registry.keepTags", /at least 1 tag/],
  ["purge schedule that is not cron", (r) => (r.registry.purgeSchedule = "daily"), "dcs:registry.purgeSchedule", /five-field cron/],
  ["no cluster at all", (r) => (r.clusters = {}), "dcs:clusters", /declare at least one cluster/],
  ["a cluster name that is not short and lower-case", (r) => (r.clusters = { "Big Cluster": r.clusters.dask }), "dcs:clusters.Big Cluster", /short, lower-case/],
  ["a cluster on a pool that is not declared", (r) => (r.clusters.dask.pool = { workers: "nope" }), "dcs:clusters.dask.pool.workers", /names no pool of dcs:pools/],
  ["a driver on a spot pool", (r) => { r.pools = { cheap: { nodeType: "Standard_D4ds_v5", spot: true } }; delete r.clusters.dask.nodeType; r.clusters.dask.pool = { workers: "cheap" }; }, "dcs:clusters.dask.pool.driver", /a driver never runs on spot/],
  ["spot on a cluster that draws from a pool", (r) => { r.pools = { warm: { nodeType: "Standard_D4ds_v5" } }; delete r.clusters.dask.nodeType; r.clusters.dask.pool = { workers: "warm" }; r.clusters.dask.spot = true; }, "dcs:clusters.dask.spot", /spot is the pool's/],
  ["node types beside a pool", (r) => { r.pools = { warm: { nodeType: "Standard_D4ds_v5" } }; r.clusters.dask.pool = { workers: "warm" }; }, "dcs:clusters.dask.pool", /takes its node types from it/],
  ["a spot price that is neither -1 nor positive", (r) => (r.clusters.dask.spotMaxPrice = 0), "dcs:clusters.dask.spotMaxPrice", /-1.*positive/],
  ["a group-dedicated cluster on a runtime before 15.4", (r) => { r.image.runtime = "14.3-LTS"; r.clusters.dask.sparkVersion = "14.3.x-scala2.12"; r.clusters.dask.groupName = "hydrology-team"; }, "dcs:clusters.dask.groupName", /15\.4 or later/],
  ["a pool whose capacity is below its idle VMs", (r) => (r.pools = { warm: { nodeType: "Standard_D4ds_v5", minIdleInstances: 3, maxCapacity: 2 } }), "dcs:pools.warm.maxCapacity", /at least minIdleInstances/],
  ["a job schedule that is not Quartz cron", (r) => (r.jobs = { smoke: { file: "dask_smoke.py", runAs: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", schedule: { cron: "0 2 * * *" } } }), "dcs:jobs.smoke.schedule.cron", /Quartz cron/],
  ["a job without a service principal to run as", (r) => (r.jobs = { smoke: { file: "dask_smoke.py", runAs: "me@contoso.com" } }), "dcs:jobs.smoke.runAs", /application id/],
  ["a job file that is not Python", (r) => (r.jobs = { smoke: { file: "smoke.sh", runAs: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b" } }), "dcs:jobs.smoke.file", /Python file/],
  ["grant wait above half an hour", (r) => (r.registry.grantWaitSeconds = 3600), "dcs:registry.grantWaitSeconds", /1800/],
];

describe("bad configuration is rejected before anything is created, naming the key", () => {
  it("has a table of at least 15 cases", () => expect(cases.length).toBeGreaterThanOrEqual(15));

  it.each(cases)("%s", (_title, mutate, key, message, stack = "dev", secretKeys) => {
    const raw = devWithSecret();
    mutate(raw);
    const problems = problemsOf(() => parse(raw, stack, secretKeys));
    const match = problems.find((p) => p.key === key);
    expect(match, `problems: ${JSON.stringify(problems)}`).toBeDefined();
    expect(match!.message).toMatch(message);
  });

  it("lists every problem at once, with the stack file, and never prints a secret value", () => {
    const raw = devWithSecret();
    raw.registry.name = "x";
    raw.clusters.dask.autoterminationMinutes = 500;
    raw.dask.schedulerPort = 1;
    let error: unknown;
    try {
      parse(raw, "dev", []);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/^Pulumi\.dev\.yaml: \d+ configuration problems; nothing was created or changed/);
    // Schema problems and cross-key problems arrive in one report.
    for (const key of ["dcs:registry.name", "dcs:dask.schedulerPort", "dcs:clusters.dask.autoterminationMinutes", "dcs:pullClientSecret"]) expect(message).toContain(`  - ${key}: `);
    expect(message).not.toContain(SECRET);
  });

  it("reports cross-field problems together once the schema holds", () => {
    const raw = devWithSecret();
    raw.clusters.dask.autoterminationMinutes = 500;
    raw.dask.dashboardPort = 8786;
    raw.registry.adminUserEnabled = true;
    const keys = problemsOf(() => parse(raw, "prod")).map((p) => p.key);
    expect(keys).toEqual(expect.arrayContaining(["dcs:clusters.dask.autoterminationMinutes", "dcs:dask.dashboardPort", "dcs:registry.adminUserEnabled"]));
  });
});

describe("a platform stack", () => {
  const platform = () => ({
    kind: "platform",
    workspace: { url: "https://adb-1.2.azuredatabricks.net" },
    containerServices: { manage: true },
    teams: { hydrology: { group: "hydrology-team", registries: ["dcshydrologydev.azurecr.io"] } },
  });

  it("needs the workspace, the switch and its teams; the policy has defaults", () => {
    expect(parse(platform(), "prod", [])).toEqual({
      kind: "platform",
      stack: "prod",
      environment: "prod",
      workspace: { url: "https://adb-1.2.azuredatabricks.net" },
      containerServices: { manage: true },
      tags: {},
      teams: { hydrology: { group: "hydrology-team", registries: ["dcshydrologydev.azurecr.io"], jobPrincipals: [] } },
      policy: { sparkVersions: ["16.4.x-scala2.12"], autoterminationMinutes: { min: 10, max: 120, default: 30 } },
    });
    expect(secretKeysNeeded({ "dcs:kind": "platform" })).toEqual([]);
    for (const stack of ["platform-dev", "platform-prod"]) {
      const c = parse(stackRaw(stack), stack, []);
      expect(c.kind, stack).toBe("platform");
    }
  });

  it("refuses team keys, a switch it does not manage, no team, and a policy that does not hold together, naming each key", () => {
    const problems = problemsOf(() =>
      parse(
        {
          ...platform(),
          registry: { name: "dcsx1" },
          containerServices: { manage: false },
          teams: {},
          policy: { sparkVersions: ["16.4.x-cpu-ml-scala2.12"], autoterminationMinutes: { min: 60, max: 30, default: 200 } },
        },
        "prod",
        [],
      ),
    );
    expect(problems.map((p) => p.key).sort()).toEqual([
      "dcs:containerServices.manage",
      "dcs:policy.autoterminationMinutes.default",
      "dcs:policy.autoterminationMinutes.max",
      "dcs:policy.sparkVersions[0]",
      "dcs:registry",
      "dcs:teams",
    ]);
    expect(problems.find((p) => p.key === "dcs:registry")!.message).toMatch(/not used by a platform stack/);
  });

  it("is what a team stack cannot be: a team stack refuses dcs:teams, and a workspace or the switch beside a platform stack", () => {
    const raw = devWithSecret();
    (raw as Record<string, unknown>).teams = {};
    (raw as Record<string, unknown>).workspace = { url: "https://adb-1.2.azuredatabricks.net" };
    (raw as Record<string, unknown>).containerServices = { manage: true };
    const keys = problemsOf(() => parse(raw)).map((p) => p.key);
    expect(keys).toEqual(expect.arrayContaining(["dcs:teams", "dcs:workspace", "dcs:containerServices.manage"]));
  });
});

describe("raw configuration", () => {
  it("decodes JSON objects and booleans, leaves strings alone", () => {
    expect(decodeConfigValue('{"a":1}')).toEqual({ a: 1 });
    expect(decodeConfigValue("true")).toBe(true);
    expect(decodeConfigValue("8786")).toBe("8786");
    expect(decodeConfigValue("{not json")).toBe("{not json");
  });

  it("keeps only the dcs namespace", () => {
    expect(readRawConfig({ "dcs:team": "hydrology", "azure-native:location": "westeurope", "dcs:cluster": '{"numWorkers":1}' })).toEqual({ team: "hydrology", cluster: { numWorkers: 1 } });
  });

  it("turns Dask settings into the init script's variables", () => {
    expect(daskEnvVars({ schedulerPort: 9000, dashboardPort: 9001, connectRetries: 5, workerThreads: 2, workerMemory: "8GiB" })).toEqual({
      DCS_DASK_SCHEDULER_PORT: "9000",
      DCS_DASK_DASHBOARD_PORT: "9001",
      DCS_DASK_CONNECT_RETRIES: "5",
      DCS_DASK_WORKER_THREADS: "2",
      DCS_DASK_WORKER_MEMORY: "8GiB",
    });
    expect(Object.keys(daskEnvVars({ schedulerPort: 8786, dashboardPort: 8087, connectRetries: 60 }))).not.toContain("DCS_DASK_WORKER_THREADS");
    expect(daskEnvVars({ schedulerPort: 8786, dashboardPort: 8087, connectRetries: 60, nodeFraction: 0.75 }).DCS_DASK_NODE_FRACTION).toBe("0.75");
  });
});
