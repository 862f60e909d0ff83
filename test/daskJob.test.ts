import * as fs from "node:fs";
import * as path from "node:path";
import * as databricks from "@pulumi/databricks";
import { describe, expect, it } from "vitest";
import { ACCESS_MODE } from "../components/computeSpec";
import {
  DaskJob,
  DEFAULT_TIMEOUT_SECONDS,
  defaultJobFolder,
  isTimeZone,
  jobFileDestination,
  MAX_CONCURRENT_RUNS,
  quartzCronProblems,
  taskKeyOf,
  validateDaskJobArgs,
  type DaskJobArgs,
} from "../components/daskJob";
import { RenderError } from "../stacks/render/engine";
import { input, one, ofType, providerUrn, recordResources, ROOT } from "./helpers/record";

const JOB = "databricks:index/job:Job";
const WORKSPACE_FILE = "databricks:index/workspaceFile:WorkspaceFile";
const VOLUME_FILE = "databricks:index/file:File";
const DIGEST = `dcshydrodev.azurecr.io/hydrology/dask@sha256:${"b".repeat(64)}`;
const REFERENCE = "{{secrets/dcs-hydrology-test/acr-pull}}";
const PULL_CLIENT = "3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01";
const RUN_AS = "8d23ae77-912e-4a19-81e4-b9c3f5cc9349";
const SMOKE = path.join(ROOT, "jobs", "dask_smoke.py");
const SCRIPTS = [{ workspace: { destination: "/Shared/dcs/test/init-scripts/init_script_dask.sh" } }];
const ENV = { DCS_DASK_SCHEDULER_PORT: "8786", DCS_DASK_DASHBOARD_PORT: "8087", DCS_INIT_SCRIPTS_SHA256: "a".repeat(64) };

function args(overrides: Partial<Omit<DaskJobArgs, "provider">> = {}, cluster: Partial<DaskJobArgs["cluster"]> = {}): Omit<DaskJobArgs, "provider"> {
  return {
    jobName: "hydrology-dask-smoke-test",
    pythonFile: SMOKE,
    folder: "/Shared/dcs/test/jobs",
    parameters: ["--workers", "2", "--timeout", "600"],
    runAsServicePrincipal: RUN_AS,
    schedule: { quartzCronExpression: "0 0 6 ? * MON-FRI", timezoneId: "Europe/Amsterdam" },
    ...overrides,
    cluster: {
      imageRef: DIGEST,
      pullUsername: PULL_CLIENT,
      pullPassword: REFERENCE,
      sparkVersion: "16.4.x-scala2.12",
      nodeType: "Standard_D4ds_v5",
      numWorkers: 2,
      initScripts: SCRIPTS,
      sparkEnvVars: ENV,
      customTags: { team: "hydrology" },
      ...cluster,
    },
  };
}

function declare(jobArgs: Omit<DaskJobArgs, "provider">) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const job = new DaskJob("smoke", { ...jobArgs, provider });
    return { jobId: job.jobId, url: job.url, pythonFile: job.pythonFile };
  };
}

describe("DaskJob", () => {
  it("uploads the job file and runs it as a spark_python_task on a job cluster booted from the image with the init scripts", async () => {
    const r = await recordResources(declare(args()));
    const upload = one(r, WORKSPACE_FILE);
    expect(upload.inputs.path).toBe("/Shared/dcs/test/jobs/dask_smoke.py");
    const bytes = fs.readFileSync(SMOKE);
    expect(upload.inputs.contentBase64).toMatch(new RegExp(`^sha256:[0-9a-f]{64} \\(${bytes.length} bytes\\)$`));
    expect(providerUrn(upload)).toBe(one(r, "pulumi:providers:databricks").urn);

    const job = one(r, JOB);
    expect(providerUrn(job)).toBe(one(r, "pulumi:providers:databricks").urn);
    expect(job.dependencies).toContain(upload.urn);
    expect(job.secretInputs).toEqual([]);
    expect(job.inputs).toMatchObject({
      name: "hydrology-dask-smoke-test",
      maxConcurrentRuns: 1,
      timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
      runAs: { servicePrincipalName: RUN_AS },
      schedule: { quartzCronExpression: "0 0 6 ? * MON-FRI", timezoneId: "Europe/Amsterdam", pauseStatus: "UNPAUSED" },
    });
    expect(MAX_CONCURRENT_RUNS).toBe(1);
    // Multi-task form only: the job-level single-task fields are Jobs API 2.0 and deprecated.
    for (const legacy of ["sparkPythonTask", "newCluster", "existingClusterId", "emailNotifications"]) expect(job.inputs[legacy]).toBeUndefined();
    const tasks = job.inputs.tasks as unknown[];
    expect(tasks).toHaveLength(1);
    expect(input(job, "tasks.0.taskKey")).toBe("dask_smoke");
    expect(input(job, "tasks.0.sparkPythonTask")).toEqual({ pythonFile: upload.inputs.path, parameters: ["--workers", "2", "--timeout", "600"] });

    expect(input(job, "tasks.0.newCluster")).toEqual({
      azureAttributes: { availability: "ON_DEMAND_AZURE", firstOnDemand: 1 },
      sparkVersion: "16.4.x-scala2.12",
      nodeTypeId: "Standard_D4ds_v5",
      driverNodeTypeId: "Standard_D4ds_v5",
      numWorkers: 2,
      dataSecurityMode: ACCESS_MODE,
      singleUserName: RUN_AS,
      dockerImage: { url: DIGEST, basicAuth: { username: PULL_CLIENT, password: REFERENCE } },
      initScripts: SCRIPTS,
      customTags: { team: "hydrology" },
      sparkEnvVars: ENV,
      sparkConf: {},
    });
    expect(r.invokes).toEqual([]);
    expect(r.outputs.jobId).toBe("smoke-job-id");
    expect(r.outputs.pythonFile).toBe("/Shared/dcs/test/jobs/dask_smoke.py");
    expect(ofType(r, "dcs:index:DaskJob")).toHaveLength(1);
    expect(job.parent).toBe(one(r, "dcs:index:DaskJob").urn);
  });

  it("uploads to a volume with the Spark flag custom containers need to read volumes", async () => {
    const r = await recordResources(declare(args({ store: "volumes", folder: "/Volumes/main/hydrology/jobs/" }, { sparkConf: { "spark.speculation": "false" } })));
    const upload = one(r, VOLUME_FILE);
    expect(upload.inputs.path).toBe("/Volumes/main/hydrology/jobs/dask_smoke.py");
    expect(ofType(r, WORKSPACE_FILE)).toEqual([]);
    const job = one(r, JOB);
    expect(input(job, "tasks.0.sparkPythonTask.pythonFile")).toBe("/Volumes/main/hydrology/jobs/dask_smoke.py");
    expect(input(job, "tasks.0.newCluster.sparkConf")).toEqual({ "spark.speculation": "false", "spark.databricks.unityCatalog.volumes.enabled": "true" });
  });

  it("draws from pools as given (no node types, no Azure attributes), or takes spot workers with an on-demand driver", async () => {
    const pooled = one(await recordResources(declare(args({}, { nodeType: undefined, instancePoolId: "pool-workers", driverInstancePoolId: "pool-driver" }))), JOB);
    expect(input(pooled, "tasks.0.newCluster")).toMatchObject({ instancePoolId: "pool-workers", driverInstancePoolId: "pool-driver" });
    for (const field of ["nodeTypeId", "driverNodeTypeId", "azureAttributes"]) expect(input(pooled, `tasks.0.newCluster.${field}`)).toBeUndefined();

    const spot = one(await recordResources(declare(args({}, { spot: {} }))), JOB);
    expect(input(spot, "tasks.0.newCluster.azureAttributes")).toEqual({ availability: "SPOT_WITH_FALLBACK_AZURE", firstOnDemand: 1, spotBidMaxPrice: -1 });
  });

  it("looks up a node type when given none and no pool", async () => {
    const r = await recordResources(declare(args({}, { nodeType: undefined, minCores: 8, minMemoryGb: 32 })));
    const lookup = r.invokes.find((i) => i.token === "databricks:index/getNodeType:getNodeType");
    expect(lookup?.args).toMatchObject({ minCores: 8, minMemoryGb: 32, localDisk: true });
    expect(input(one(r, JOB), "tasks.0.newCluster.nodeTypeId")).toBe("Standard_D4ds_v5");
  });

  it("can be dedicated to a group instead, paused, unscheduled, with its own timeout and e-mails", async () => {
    const grouped = one(await recordResources(declare(args({ schedule: { quartzCronExpression: "0 30 2 * * ?", timezoneId: "UTC", paused: true } }, { owner: { group: "hydrology" } }))), JOB);
    expect(input(grouped, "tasks.0.newCluster")).toMatchObject({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED", singleUserName: "hydrology", kind: "CLASSIC_PREVIEW" });
    expect(grouped.inputs.schedule).toEqual({ quartzCronExpression: "0 30 2 * * ?", timezoneId: "UTC", pauseStatus: "PAUSED" });

    const r = await recordResources(declare(args({ schedule: undefined, timeoutSeconds: 1800, parameters: undefined, emailNotifications: { onFailure: ["hydrology@contoso.com"] } })));
    const job = one(r, JOB);
    expect(job.inputs.schedule).toBeUndefined();
    expect(job.inputs.timeoutSeconds).toBe(1800);
    expect(job.inputs.emailNotifications).toEqual({ onFailures: ["hydrology@contoso.com"] });
    expect(input(job, "tasks.0.sparkPythonTask.parameters")).toEqual([]);
  });

  it("waits for what it is told to (the init-script uploads, the pull secret)", async () => {
    const r = await recordResources(() => {
      const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
      const scripts = new databricks.WorkspaceFile("script", { path: "/Shared/dcs/test/init-scripts/init_script_dask.sh", contentBase64: "ZWNobwo=" }, { provider });
      new DaskJob("smoke", { ...args(), dependsOn: [scripts], provider });
      return {};
    });
    const script = ofType(r, WORKSPACE_FILE).find((x) => x.name === "script");
    expect(one(r, JOB).dependencies).toContain(script?.urn);
  });

  const refusals: [string, Omit<DaskJobArgs, "provider">, RegExp][] = [
    ["a job file that does not exist", args({ pythonFile: path.join(ROOT, "jobs", "no_such_job.py") }), /pythonFile .*no_such_job\.py does not exist/],
    ["a file that is not Python", args({ pythonFile: path.join(ROOT, "jobs", "README.md") }), /pythonFile .*README\.md is not a \.py file/],
    ["a Unix five-field cron", args({ schedule: { quartzCronExpression: "0 6 * * 1-5", timezoneId: "UTC" } }), /schedule: "0 6 \* \* 1-5" has 5 fields, like a Unix crontab; Quartz takes 6 or 7/],
    ["both day fields set", args({ schedule: { quartzCronExpression: "0 0 6 * * MON", timezoneId: "UTC" } }), /put \? in exactly one of day-of-month and day-of-week/],
    ["an hour out of range", args({ schedule: { quartzCronExpression: "0 0 24 * * ?", timezoneId: "UTC" } }), /hours "24": 24 is outside 0-23/],
    ["an unknown time zone", args({ schedule: { quartzCronExpression: "0 0 6 * * ?", timezoneId: "Mars/Olympus" } }), /timezoneId "Mars\/Olympus" is not a time-zone id/],
    ["a run-as name that is no application id", args({ runAsServicePrincipal: "dcs-jobs" }), /runAsServicePrincipal must be a service principal's application id \(a UUID\), got "dcs-jobs"/],
    ["a raw registry secret", args({}, { pullPassword: "the-client-secret" }), /cluster: pullPassword must be a \{\{secrets\/<scope>\/<key>\}\} reference/],
    ["no workers", args({}, { numWorkers: 0 }), /cluster\.numWorkers must be at least 1/],
    ["both sizes", args({}, { autoscale: { minWorkers: 1, maxWorkers: 2 } }), /cluster: set exactly one of numWorkers and autoscale/],
    ["spot on a pooled cluster", args({}, { instancePoolId: "pool", spot: {} }), /cluster: spot lives on the pool/],
    ["eleven init scripts", args({}, { initScripts: Array(11).fill(SCRIPTS[0]) }), /cluster: a cluster runs at most 10 init scripts/],
    ["a relative workspace folder", args({ folder: "Shared/jobs" }), /workspace folder must be absolute/],
    ["a volume folder outside a volume", args({ store: "volumes", folder: "/Volumes/main" }), /volume folder must be \/Volumes\/<catalog>\/<schema>\/<volume>/],
    ["no timeout", args({ timeoutSeconds: 0 }), /timeoutSeconds must be a whole number of seconds, at least 1/],
    ["a name longer than the API takes", args({ jobName: "é".repeat(2049) }), /jobName is 4098 bytes; the Jobs API takes at most 4096/],
    ["a mail address that is none", args({ emailNotifications: { onFailure: ["hydrology"] } }), /emailNotifications\.onFailure: "hydrology" is not an e-mail address/],
  ];

  it.each(refusals)("refuses %s before declaring anything, even a secret-free one", async (_title, bad, message) => {
    const err = await recordResources(declare(bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toMatch(/^DaskJob "smoke": /);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain("the-client-secret");
    const declared = (err as RenderError).recorded.map((x) => x.type);
    for (const type of ["dcs:index:DaskJob", JOB, WORKSPACE_FILE, VOLUME_FILE]) expect(declared).not.toContain(type);
  });

  it("lists every problem at once", () => {
    const problems = validateDaskJobArgs(args({ runAsServicePrincipal: "x", timeoutSeconds: -1 }, { numWorkers: undefined }));
    expect(problems).toEqual([
      'runAsServicePrincipal must be a service principal\'s application id (a UUID), got "x"',
      "timeoutSeconds must be a whole number of seconds, at least 1 (0 would mean no timeout), got -1",
      "cluster: set exactly one of numWorkers and autoscale",
    ]);
    expect(validateDaskJobArgs(args())).toEqual([]);
  });
});

describe("Quartz schedules", () => {
  it.each([
    "0 0 12 * * ?",
    "0 15 10 ? * *",
    "0 15 10 * * ? 2030",
    "0 0/5 14,18 * * ?",
    "0 0-5 14 * * ?",
    "0 10,44 14 ? 3 WED",
    "0 15 10 ? * MON-FRI",
    "0 15 10 L * ?",
    "0 15 10 L-2 * ?",
    "0 0 12 LW * ?",
    "0 0 12 15W * ?",
    "0 15 10 ? * 6L",
    "0 15 10 ? * 6#3",
    "0 0 12 1/5 * ?",
    "0 11 11 11 11 ?",
    "*/30 * * ? * *",
    "0 0 6 ? jan-mar mon",
  ])("accepts %s (Quartz CronTrigger tutorial forms)", (expression) => {
    expect(quartzCronProblems(expression)).toEqual([]);
  });

  it.each([
    ["0 0 12 * *", /has 5 fields, like a Unix crontab/],
    ["0 0 12 * * ? 2030 x", /has 8 fields; Quartz takes 6 or 7/],
    ["0 0 12 ? * ?", /put \? in exactly one of day-of-month and day-of-week/],
    ["0 0 12 * * *", /put \? in exactly one/],
    ["? 0 12 * * ?", /seconds "\?": \? is allowed only in day-of-month or day-of-week/],
    ["60 0 12 * * ?", /seconds "60": 60 is outside 0-59/],
    ["0 0/60 12 * * ?", /minutes "0\/60": the increment must be from 1 to 59/],
    ["0 0 12 32 * ?", /day-of-month "32": 32 is outside 1-31/],
    ["0 0 12 ? 13 MON", /month "13": 13 is outside 1-12 \(or JAN-DEC\)/],
    ["0 0 12 ? * MON#6", /# takes a day of the week and an occurrence from 1 to 5/],
    ["0 0 12 ? * FUN", /day-of-week "FUN": FUN is outside 1-7 \(or SUN-SAT\)/],
    ["0 0 12 L-31 * ?", /the offset from the last day is at most 30/],
    ["0 0 12 * * ? 1969", /year "1969": 1969 is outside 1970-2099/],
    ["0 0 12 1,? * MON", /\? stands alone in its field/],
  ])("refuses %s", (expression, message) => {
    expect(quartzCronProblems(expression).join("; ")).toMatch(message);
  });

  it("knows time-zone ids as Java does for the usual names", () => {
    for (const id of ["UTC", "Europe/Amsterdam", "America/New_York", "Etc/GMT+1"]) expect(isTimeZone(id)).toBe(true);
    for (const id of ["", " UTC", "Mars/Olympus", "CEST+1"]) expect(isTimeZone(id)).toBe(false);
  });
});

describe("names and paths", () => {
  it("derives the task key, the destination and the default folder", () => {
    expect(taskKeyOf("/repo/jobs/dask_smoke.py")).toBe("dask_smoke");
    expect(taskKeyOf("/repo/jobs/my study.v2.py")).toBe("my_study_v2");
    expect(jobFileDestination("/Shared/dcs/dev/jobs/", "/repo/jobs/dask_smoke.py")).toBe("/Shared/dcs/dev/jobs/dask_smoke.py");
    expect(defaultJobFolder("workspace", "dev")).toBe("/Shared/dcs/dev/jobs");
    expect(defaultJobFolder("volumes", "dev")).toBeUndefined();
  });
});
