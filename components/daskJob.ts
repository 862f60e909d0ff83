/**
 * DaskJob: a scheduled Databricks job that runs one Python file of the
 * repository's jobs/ folder (jobs/dask_smoke.py, say) on a fresh job cluster
 * built from the same compute shape as the interactive cluster: the team's
 * image pulled with the `{{secrets/...}}` reference, the same init scripts
 * (which start Dask), the same Spark environment, pools and spot. It uploads
 * the file (a workspace file, or a file in a Unity Catalog volume) and
 * declares a `databricks.Job` with one `spark_python_task` task on a
 * `new_cluster`, run as a service principal, one run at a time, with a
 * timeout and an optional Quartz schedule and e-mail notifications.
 *
 * Facts it relies on (checked in the sources named; "provider" is
 * terraform-provider-databricks at 684f442, which @pulumi/databricks 1.110
 * wraps; "SDK" is databricks-sdk-go at 1ff3c78, the Jobs API model):
 * - Tasks go in `task` blocks; the job-level single-task fields
 *   (`spark_python_task`, `new_cluster` on the job) are Jobs API 2.0 and
 *   deprecated (provider docs/resources/job.md, "Single-task syntax
 *   (deprecated)"; jobs/resource_job.go marks them "should be used inside a
 *   task block"). A task's `new_cluster` is a full cluster spec except
 *   `autotermination_minutes`, `is_pinned`, `workload_type`
 *   (docs/resources/job.md); in the SDK it is `compute.ClusterSpec`, which has
 *   `docker_image`, `init_scripts`, `single_user_name`, `data_security_mode`,
 *   `instance_pool_id`, `azure_attributes` and `spark_env_vars`
 *   (service/jobs/model.go `Task.NewCluster`, service/compute/model.go).
 * - `spark_python_task.python_file`: workspace paths must be absolute and
 *   start with `/`; cloud URIs also work (SDK `SparkPythonTask`). A path in
 *   a Unity Catalog volume (`/Volumes/...`) is not named there: the volumes
 *   store is opt-in and unverified.
 * - `schedule { quartz_cron_expression, timezone_id, pause_status }`: a
 *   Quartz cron expression and a Java time-zone id, both required;
 *   pause_status PAUSED or UNPAUSED, default UNPAUSED (SDK `CronSchedule`;
 *   provider resource_job.go sets the default and validates the value).
 *   Quartz (quartz-scheduler/quartz CronExpression.java, buildExpression and
 *   storeExpressionVals; Quartz CronTrigger tutorial): 6 or 7 fields,
 *   seconds minutes hours day-of-month month day-of-week [year]; `?` only in
 *   day-of-month or day-of-week, and in exactly one of them; `L`, `W`, `#`
 *   (1 to 5) and increments bounded per field. Databricks runs a schedule at
 *   most every 10 seconds whatever the seconds field says (Azure Databricks
 *   docs, "Run jobs on a schedule or continuously").
 * - `run_as { service_principal_name }`: the application id of an active
 *   service principal; setting it requires the `servicePrincipal/user` role
 *   on that service principal (SDK `JobRunAs`; provider docs run_as block).
 *   That is the account-level "Service Principal User" role, which the
 *   deploying identity must hold explicitly: the Manager role does not
 *   include it (Azure Databricks docs, "Roles for managing service
 *   principals"). Exactly one of user_name / service_principal_name
 *   (resource_job.go); the provider reads a UUID run-as name back as a
 *   service principal (resource_job.go, Read).
 * - `max_concurrent_runs` defaults to 1 and cannot exceed 1000;
 *   `timeout_seconds` 0 means no timeout; a job name is at most 4096 bytes
 *   of UTF-8 (SDK `JobSettings`).
 * - The job's `id` is the job id and `url` its page (docs/resources/job.md,
 *   Attribute Reference).
 *
 * Not verified by any source found: that a job cluster in dedicated
 * (single-user) mode must be dedicated to the identity the job runs as. The
 * component assumes so (the default owner is the run-as service principal),
 * which also means that service principal needs READ on the pull secret's
 * scope and read access to the init scripts and the job file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { computeSpec, type ComputeArgs, type ComputeOwner } from "./computeSpec";
import { validateClusterArgs } from "./dcsCluster";
import { storeSparkConf } from "./initScripts";
import { childName } from "./naming";
import { nodeTypeFor } from "./nodeType";

/** Where a job's Python file is uploaded. */
export type JobFileStore = "workspace" | "volumes";

/** Runs of one job at a time: a scheduled run that finds one running is skipped. */
export const MAX_CONCURRENT_RUNS = 1;
/** Longest job name the Jobs API accepts, in UTF-8 bytes. */
export const MAX_JOB_NAME_BYTES = 4096;
/** Default run timeout: an hour covers a cluster start with an image pull and a smoke run. */
export const DEFAULT_TIMEOUT_SECONDS = 3600;

/** A Quartz schedule for the job. */
export interface JobSchedule {
  /** Quartz cron expression: seconds minutes hours day-of-month month day-of-week [year], e.g. `0 0 6 ? * MON-FRI`. */
  quartzCronExpression: string;
  /** Java time-zone id the expression is read in, e.g. `UTC` or `Europe/Amsterdam`. */
  timezoneId: string;
  /** Declared but not running. Default: false. */
  paused?: boolean;
}

/** Who is mailed about the job's runs. */
export interface JobEmails {
  onFailure?: string[];
  onSuccess?: string[];
  onStart?: string[];
}

/** The job cluster: the interactive cluster's compute shape; the owner defaults to the run-as service principal. */
export type JobClusterArgs = Omit<ComputeArgs, "owner"> & {
  /** Who the dedicated job cluster belongs to. Default: the run-as service principal. */
  owner?: ComputeOwner;
  /** Minimum cores for the node-type lookup (no nodeType, no pool). Default: 4. */
  minCores?: number;
  /** Minimum memory (GB) for the node-type lookup (no nodeType, no pool). Default: 16. */
  minMemoryGb?: number;
  /** The job cluster boots a GPU image: GPUs per node for the lookup. Default: not a GPU image. */
  minGpus?: number;
};

export interface DaskJobArgs {
  /** Job name in the workspace (at most 4096 bytes). */
  jobName: string;
  /** Local path of the Python file to upload and run, e.g. `<repo>/jobs/dask_smoke.py`. */
  pythonFile: string;
  /** Store for the uploaded file. Default: workspace (workspace files). */
  store?: JobFileStore;
  /** Destination folder: absolute workspace folder (`/Shared/...`) or `/Volumes/<catalog>/<schema>/<volume>/<folder>`. */
  folder: string;
  /** Command-line parameters for the file, e.g. `["--workers", "2"]`. Default: none. */
  parameters?: string[];
  /** The job cluster's compute: image, pull identity, init scripts, env vars, size, pools, spot. */
  cluster: JobClusterArgs;
  /** Application id (UUID) of the service principal the job runs as; the deployer needs the Service Principal User role on it. */
  runAsServicePrincipal: string;
  /** Quartz schedule. Default: none (runs only when triggered, e.g. by the pipeline after a deployment). */
  schedule?: JobSchedule;
  /** Seconds before a run is stopped and failed. Default: 3600. */
  timeoutSeconds?: number;
  /** E-mail notifications. Default: none. */
  emailNotifications?: JobEmails;
  /** Resources the job waits for: init-script uploads, the pull secret and its grants. Default: none. */
  dependsOn?: pulumi.Resource[];
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
}

/** Default folder of the job files of a stack; a volume must be named explicitly. */
export function defaultJobFolder(store: JobFileStore, stack: string): string | undefined {
  return store === "workspace" ? `/Shared/dcs/${stack}/jobs` : undefined;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface QuartzField {
  name: string;
  min: number;
  max: number;
  /** Largest increment Quartz accepts after `/` (checkIncrementRange). */
  maxStep?: number;
  names?: string[];
}

/** Quartz's fields in order (CronExpression.java; the year is optional). */
const QUARTZ_FIELDS: QuartzField[] = [
  { name: "seconds", min: 0, max: 59, maxStep: 59 },
  { name: "minutes", min: 0, max: 59, maxStep: 59 },
  { name: "hours", min: 0, max: 23, maxStep: 23 },
  { name: "day-of-month", min: 1, max: 31, maxStep: 31 },
  { name: "month", min: 1, max: 12, maxStep: 12, names: MONTHS },
  { name: "day-of-week", min: 1, max: 7, maxStep: 7, names: WEEKDAYS },
  { name: "year", min: 1970, max: 2099 },
];
const DAY_OF_MONTH = 3;
const DAY_OF_WEEK = 5;

/** Why one comma-separated item of a Quartz field is invalid, or undefined. */
function quartzItemProblem(item: string, index: number): string | undefined {
  const field = QUARTZ_FIELDS[index];
  const value = (text: string): number | undefined => {
    if (/^\d+$/.test(text)) return Number(text);
    const named = field.names?.indexOf(text) ?? -1;
    return named >= 0 ? named + 1 : undefined;
  };
  const inRange = (text: string) => {
    const v = value(text);
    return v !== undefined && v >= field.min && v <= field.max;
  };
  const bad = `${field.name} "${item}"`;
  if (index === DAY_OF_MONTH) {
    const last = /^L(?:-(\d+))?W?$/.exec(item);
    if (last) return last[1] !== undefined && Number(last[1]) > 30 ? `${bad}: the offset from the last day is at most 30` : undefined;
    const weekday = /^(\d+)W$/.exec(item);
    if (weekday) return inRange(weekday[1]) ? undefined : `${bad}: W needs a day of the month from 1 to 31`;
  }
  if (index === DAY_OF_WEEK) {
    if (item === "L") return undefined;
    const lastOf = /^(\w+)L$/.exec(item);
    if (lastOf) return inRange(lastOf[1]) ? undefined : `${bad}: L follows a day of the week (1-7 or SUN-SAT)`;
    const nth = /^(\w+)#(\d+)$/.exec(item);
    if (nth) return inRange(nth[1]) && Number(nth[2]) >= 1 && Number(nth[2]) <= 5 ? undefined : `${bad}: # takes a day of the week and an occurrence from 1 to 5`;
  }
  const plain = /^(\*|(\w+)(?:-(\w+))?)(?:\/(\d+))?$/.exec(item);
  if (!plain) return `${bad} is not a value, range, list or increment Quartz accepts there`;
  const [, , from, to, step] = plain;
  if (from !== undefined && !inRange(from)) return `${bad}: ${from} is outside ${field.min}-${field.max}${field.names ? ` (or ${field.names[0]}-${field.names[field.names.length - 1]})` : ""}`;
  if (to !== undefined && !inRange(to)) return `${bad}: ${to} is outside ${field.min}-${field.max}${field.names ? ` (or ${field.names[0]}-${field.names[field.names.length - 1]})` : ""}`;
  if (step !== undefined && (Number(step) < 1 || (field.maxStep !== undefined && Number(step) > field.maxStep))) return `${bad}: the increment must be from 1 to ${field.maxStep ?? "the field's range"}`;
  return undefined;
}

/** Problems with a Quartz cron expression, as messages; empty when Quartz would accept it. */
export function quartzCronProblems(expression: string): string[] {
  const fields = expression.trim().toUpperCase().split(/\s+/).filter(Boolean);
  if (fields.length === 5) {
    return [
      `"${expression}" has 5 fields, like a Unix crontab; Quartz takes 6 or 7: seconds minutes hours day-of-month month day-of-week [year], with ? in day-of-month or day-of-week (e.g. "0 0 6 ? * MON-FRI")`,
    ];
  }
  if (fields.length < 6 || fields.length > 7) return [`"${expression}" has ${fields.length} fields; Quartz takes 6 or 7: seconds minutes hours day-of-month month day-of-week [year]`];
  const problems: string[] = [];
  fields.forEach((text, index) => {
    if (text === "?") {
      if (index !== DAY_OF_MONTH && index !== DAY_OF_WEEK) problems.push(`${QUARTZ_FIELDS[index].name} "?": ? is allowed only in day-of-month or day-of-week`);
      return;
    }
    for (const item of text.split(",")) {
      const problem = item.includes("?") ? `${QUARTZ_FIELDS[index].name} "${text}": ? stands alone in its field` : quartzItemProblem(item, index);
      if (problem) problems.push(problem);
    }
  });
  const dom = fields[DAY_OF_MONTH] === "?";
  const dow = fields[DAY_OF_WEEK] === "?";
  if (dom === dow) problems.push(`"${expression}": put ? in exactly one of day-of-month and day-of-week (Quartz does not combine them), e.g. "0 0 6 * * ?" or "0 0 6 ? * MON-FRI"`);
  return problems;
}

/** True for a time-zone id the ICU database knows (IANA names and UTC, which Java's TimeZone accepts too). */
export function isTimeZone(id: string): boolean {
  if (id.trim() === "" || id !== id.trim()) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: id });
    return true;
  } catch {
    return false;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Problems with the job's arguments (file, store, schedule, run-as, limits, and the cluster's rules), as messages. */
export function validateDaskJobArgs(args: Omit<DaskJobArgs, "provider">): string[] {
  const problems: string[] = [];
  const bytes = Buffer.byteLength(args.jobName, "utf8");
  if (args.jobName.trim() === "") problems.push("jobName is empty");
  if (bytes > MAX_JOB_NAME_BYTES) problems.push(`jobName is ${bytes} bytes; the Jobs API takes at most ${MAX_JOB_NAME_BYTES}`);
  if (!args.pythonFile.endsWith(".py")) problems.push(`pythonFile ${args.pythonFile} is not a .py file`);
  else if (!fs.existsSync(args.pythonFile) || !fs.statSync(args.pythonFile).isFile()) problems.push(`pythonFile ${args.pythonFile} does not exist`);
  const store = args.store ?? "workspace";
  if (store === "workspace" && !args.folder.startsWith("/")) problems.push(`workspace folder must be absolute (got ${args.folder})`);
  if (store === "volumes" && !/^\/Volumes\/[^/]+\/[^/]+\/[^/]+(\/|$)/.test(args.folder)) problems.push(`volume folder must be /Volumes/<catalog>/<schema>/<volume>[/...] (got ${args.folder})`);
  if (!UUID.test(args.runAsServicePrincipal)) problems.push(`runAsServicePrincipal must be a service principal's application id (a UUID), got "${args.runAsServicePrincipal}"`);
  if (args.schedule) {
    problems.push(...quartzCronProblems(args.schedule.quartzCronExpression).map((p) => `schedule: ${p}`));
    if (!isTimeZone(args.schedule.timezoneId)) problems.push(`schedule: timezoneId "${args.schedule.timezoneId}" is not a time-zone id such as UTC or Europe/Amsterdam`);
  }
  const timeout = args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < 1) problems.push(`timeoutSeconds must be a whole number of seconds, at least 1 (0 would mean no timeout), got ${timeout}`);
  for (const [event, addresses] of Object.entries(args.emailNotifications ?? {})) {
    for (const address of addresses ?? []) if (!/^[^@\s]+@[^@\s]+$/.test(address)) problems.push(`emailNotifications.${event}: "${address}" is not an e-mail address`);
  }
  const cluster = args.cluster;
  if (cluster.numWorkers !== undefined && cluster.numWorkers < 1) problems.push("cluster.numWorkers must be at least 1: Dask workers run on the job cluster's workers");
  const owner = cluster.owner;
  problems.push(
    ...validateClusterArgs({
      numWorkers: cluster.numWorkers,
      autoscale: cluster.autoscale,
      initScripts: cluster.initScripts,
      customTags: cluster.customTags,
      pullPassword: cluster.pullPassword,
      logDestination: cluster.logDestination,
      instancePoolId: cluster.instancePoolId,
      driverInstancePoolId: cluster.driverInstancePoolId,
      spot: cluster.spot,
      groupName: owner && "group" in owner ? owner.group : undefined,
      sparkVersion: typeof cluster.sparkVersion === "string" ? cluster.sparkVersion : undefined,
    }).map((p) => `cluster: ${p}`),
  );
  return problems;
}

/** The task key for a Python file: its name without `.py`, in the characters task keys take. */
export function taskKeyOf(pythonFile: string): string {
  return path.basename(pythonFile, ".py").replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 100) || "task";
}

/** Where the file lands: the upload's path, which is also what the task names. */
export function jobFileDestination(folder: string, pythonFile: string): string {
  return `${folder.replace(/\/+$/, "")}/${path.basename(pythonFile)}`;
}

export class DaskJob extends pulumi.ComponentResource {
  /** Databricks job id. */
  public readonly jobId: pulumi.Output<string>;
  /** URL of the job's page in the workspace. */
  public readonly url: pulumi.Output<string>;
  /** Path of the uploaded Python file, as the task names it. */
  public readonly pythonFile: string;
  /** The upload resource. */
  public readonly upload: pulumi.Resource;

  constructor(name: string, args: DaskJobArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validateDaskJobArgs(args);
    if (problems.length > 0) throw new Error(`DaskJob "${name}": ${problems.join("; ")}`);
    super("dcs:index:DaskJob", name, {}, opts);

    const { provider, cluster } = args;
    const store = args.store ?? "workspace";
    const destination = jobFileDestination(args.folder, args.pythonFile);
    const childOpts = { parent: this, provider };

    const fileName = childName(name, path.basename(args.pythonFile, ".py").replace(/[^A-Za-z0-9-]+/g, "-"));
    const fileArgs = { path: destination, contentBase64: fs.readFileSync(args.pythonFile).toString("base64") };
    this.upload = store === "workspace" ? new databricks.WorkspaceFile(fileName, fileArgs, childOpts) : new databricks.File(fileName, fileArgs, childOpts);

    const nodeType = nodeTypeFor(
      { nodeType: cluster.nodeType, pooled: cluster.instancePoolId !== undefined, minCores: cluster.minCores, minMemoryGb: cluster.minMemoryGb, minGpus: cluster.minGpus, key: "dcs:jobs.<name>.nodeType" },
      childOpts,
    );

    const newCluster = computeSpec({
      ...cluster,
      nodeType,
      owner: cluster.owner ?? { user: args.runAsServicePrincipal },
      sparkConf: { ...(cluster.sparkConf ?? {}), ...storeSparkConf(store) },
    }) as databricks.types.input.JobTaskNewCluster;

    const emails = args.emailNotifications;
    const job = new databricks.Job(
      childName(name, "job"),
      {
        name: args.jobName,
        maxConcurrentRuns: MAX_CONCURRENT_RUNS,
        timeoutSeconds: args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        runAs: { servicePrincipalName: args.runAsServicePrincipal },
        schedule: args.schedule
          ? { quartzCronExpression: args.schedule.quartzCronExpression, timezoneId: args.schedule.timezoneId, pauseStatus: args.schedule.paused ? "PAUSED" : "UNPAUSED" }
          : undefined,
        emailNotifications: emails ? { onFailures: emails.onFailure, onSuccesses: emails.onSuccess, onStarts: emails.onStart } : undefined,
        tasks: [
          {
            taskKey: taskKeyOf(args.pythonFile),
            sparkPythonTask: { pythonFile: destination, parameters: args.parameters ?? [] },
            newCluster,
          },
        ],
      },
      { parent: this, provider, dependsOn: [this.upload, ...(args.dependsOn ?? [])] },
    );

    this.pythonFile = destination;
    this.jobId = job.id;
    this.url = job.url;
    this.registerOutputs({ jobId: this.jobId, url: this.url, pythonFile: destination });
  }
}
