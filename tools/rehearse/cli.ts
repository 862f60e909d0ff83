/**
 * `npm run rehearse`: a cluster launch rehearsed on the local Docker engine,
 * before paying for a real one. See rehearse.ts for what it does and
 * infra/README.md ("Rehearsing a cluster launch") for what it proves.
 */
import { parseArgs } from "node:util";
import { DEFAULT_MAX_IMAGE_BYTES } from "./checks";
import { chooseDockerCli, Docker } from "./docker";
import { newRunId, planRehearsal, PlanError } from "./plan";
import { cleanup, EXIT, rehearse } from "./rehearse";

const USAGE = `Usage: npm run rehearse -- [--stack NAME] [--image REF | --base REF] [--workers N] [--keep]
                           [--cluster NAME] [--config KEY=VALUE]... [--max-image-gb GB] [--run-id ID]
       npm run rehearse -- --clean RUN_ID

Rehearses a cluster launch of the stack on the local Docker engine, the way Databricks
Container Services starts a custom container: builds the image from the stack's build
context with the program's build arguments and tag (or takes --image), checks what
Databricks requires of it, starts a driver and the cluster's workers as containers on a
private network with the Databricks environment, runs the stack's init scripts in order,
waits for the Dask workers, runs the smoke job (jobs/dask_smoke.py), prints a timing line
per phase and the dashboard's local URL, and removes everything it created.

  --stack NAME        stack whose Pulumi.<stack>.yaml is rehearsed (default: dev)
  --image REF         rehearse this image instead of building (pulled for linux/amd64,
                      as a cluster pulls it, when the engine lacks it)
  --base REF          build on this base image (BASE_IMAGE) instead of the stack's; the
                      image gets a rehearsal tag and is removed afterwards
  --workers N         start at most N workers (default: the cluster's size)
  --keep              leave the containers, network, volumes and built image in place
  --cluster NAME      the cluster of dcs:clusters to mimic (default: the first)
  --config KEY=VALUE  override a stack value, as \`pulumi config set --path\` would
                      (e.g. dcs:initScripts.dir=/tmp/scripts); repeatable
  --max-image-gb GB   refuse images larger than this (default: ${DEFAULT_MAX_IMAGE_BYTES / 1e9}, see infra/README.md)
  --run-id ID         name and label this run dcs.rehearsal=ID (default: random)
  --clean RUN_ID      remove what a run (kept with --keep) created, and nothing else
  --help              this text

The docker CLI is $DOCKER, else the first docker on PATH (for a build: the first that can
build with BuildKit). Exit status: 0 passed; 1 no Docker engine, or a docker command (the
build) failed; 2 bad usage or configuration, or a --run-id in use; 3 the image is missing
(and cannot be pulled) or fails what Databricks requires;
4 an init script failed (INIT_SCRIPT_FAILURE); 5 the Dask workers did not join or the smoke
job failed; 130/143 interrupted (SIGINT/SIGTERM), after cleaning up.`;

/** Runs the command line; returns the exit status. */
export async function main(argv: string[], signals: NodeJS.EventEmitter = process): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        stack: { type: "string", default: "dev" },
        image: { type: "string" },
        base: { type: "string" },
        workers: { type: "string" },
        keep: { type: "boolean", default: false },
        cluster: { type: "string" },
        config: { type: "string", multiple: true, default: [] },
        "max-image-gb": { type: "string" },
        "run-id": { type: "string" },
        clean: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.passed;
  }

  if (values.clean !== undefined) {
    if (!/^[a-z0-9]{4,16}$/.test(values.clean)) {
      process.stderr.write(`--clean: "${values.clean}" is not a run id\n`);
      return EXIT.usage;
    }
    const chosen = chooseDockerCli(false);
    const summary = await cleanup(new Docker(chosen.cli), values.clean);
    process.stdout.write(`rehearse: run ${values.clean}: ${summary}\n`);
    return EXIT.passed;
  }

  let maxImageBytes = DEFAULT_MAX_IMAGE_BYTES;
  if (values["max-image-gb"] !== undefined) {
    const gb = Number(values["max-image-gb"]);
    if (!(gb > 0)) {
      process.stderr.write(`--max-image-gb: "${values["max-image-gb"]}" is not a positive number\n`);
      return EXIT.usage;
    }
    maxImageBytes = gb * 1e9;
  }
  let plan;
  try {
    const overrides = (values.config ?? []).map((kv): [string, string] => {
      const i = kv.indexOf("=");
      if (i <= 0) throw new PlanError(`--config ${kv}: expected KEY=VALUE, such as dcs:initScripts.dir=/tmp/scripts`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    });
    const workers = values.workers === undefined ? undefined : Number(values.workers);
    if (workers !== undefined && !/^\d+$/.test(values.workers ?? "")) throw new PlanError(`--workers: "${values.workers}" is not a whole number`);
    plan = planRehearsal({ stack: values.stack ?? "dev", image: values.image, base: values.base, maxWorkers: workers, cluster: values.cluster, overrides, runId: values["run-id"] ?? newRunId() });
  } catch (e) {
    if (e instanceof PlanError) {
      process.stderr.write(`rehearse: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }

  const chosen = chooseDockerCli(plan.build !== undefined);
  if (chosen.problem) {
    process.stderr.write(`rehearse: ${chosen.problem}\n`);
    return EXIT.docker;
  }
  if (chosen.note) process.stdout.write(`rehearse: ${chosen.note}\n`);
  const docker = new Docker(chosen.cli);
  // Ctrl-C / SIGTERM: stop the docker commands under way, then the rehearsal's own finally cleans up.
  const onSignal = (signal: NodeJS.Signals) => {
    if (docker.interrupted) return;
    process.stdout.write(`\nrehearse: ${signal}: stopping and removing what this run created (run ${plan.runId})...\n`);
    void docker.interrupt(signal);
  };
  signals.on("SIGINT", onSignal);
  signals.on("SIGTERM", onSignal);
  try {
    return await rehearse(plan, { docker, keep: values.keep, maxImageBytes });
  } finally {
    signals.off("SIGINT", onSignal);
    signals.off("SIGTERM", onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`rehearse: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
