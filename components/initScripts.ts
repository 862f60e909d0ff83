/**
 * InitScripts: uploads the cluster's init scripts to a Databricks store and
 * returns the matching `initScripts` blocks for a cluster.
 *
 * Stores: workspace files (recommended), Unity Catalog volumes, or DBFS
 * (deprecated by Databricks; kept because teams still ask for it, with a warning).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { childName } from "./naming";

/** Where init scripts are stored. */
export type InitScriptStore = "workspace" | "volumes" | "dbfs";

/** Databricks accepts at most this many init scripts per cluster. */
export const MAX_INIT_SCRIPTS = 10;

/** The warning a DBFS upload logs. */
export const DBFS_DEPRECATION =
  "init scripts on DBFS are deprecated by Databricks and new workspaces may refuse them; " +
  "switch with `pulumi config set --path dcs:initScripts.store workspace` (workspace files) " +
  "or `volumes` plus dcs:initScripts.path /Volumes/<catalog>/<schema>/<volume>/<folder>";

/** One script read from disk. */
export interface InitScriptFile {
  /** File name, e.g. init_script_dask.sh. */
  fileName: string;
  /** Script bytes, base64. */
  contentBase64: string;
}

/** A cluster init-script block, in the provider's shape. */
export type InitScriptBlock = { workspace: { destination: string } } | { volumes: { destination: string } } | { dbfs: { destination: string } };

/**
 * The Spark configuration a cluster needs to read scripts from a store:
 * custom containers reach Unity Catalog volumes only with
 * `spark.databricks.unityCatalog.volumes.enabled` (Azure Databricks docs,
 * "Customize containers with Databricks Container Service", Limitations).
 */
export function storeSparkConf(store: InitScriptStore): Record<string, string> {
  return store === "volumes" ? { "spark.databricks.unityCatalog.volumes.enabled": "true" } : {};
}

/** Spark environment variable carrying the scripts' content hash into the cluster spec. */
export const SCRIPTS_HASH_VAR = "DCS_INIT_SCRIPTS_SHA256";

/**
 * A SHA-256 over the scripts in run order (names and bytes). Re-uploading a
 * file rewrites it in place and leaves the cluster spec alone, so a running
 * cluster would keep the old script until someone restarts it; this hash in
 * the spec makes an edit a cluster change that a preview shows.
 */
export function scriptsHash(files: InitScriptFile[]): string {
  const h = createHash("sha256");
  for (const f of files) h.update(`${f.fileName}\0${f.contentBase64}\0`);
  return h.digest("hex");
}

/** One planned upload. */
export interface PlannedUpload {
  file: InitScriptFile;
  /** Path argument of the upload resource. */
  uploadPath: string;
  /** Destination as the cluster names it. */
  destination: string;
  /** The cluster's block for this script. */
  block: InitScriptBlock;
}

/** Reads every `*.sh` file of `dir`, sorted by name (the order the cluster runs them in). */
export function readInitScripts(dir: string): InitScriptFile[] {
  if (!fs.existsSync(dir)) throw new Error(`init script folder ${dir} does not exist`);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sh"))
    .map((e) => e.name)
    .sort()
    .map((fileName) => ({ fileName, contentBase64: fs.readFileSync(path.join(dir, fileName)).toString("base64") }));
}

/** Default destination folder of a store for a stack. */
export function defaultInitScriptFolder(store: InitScriptStore, stack: string): string | undefined {
  switch (store) {
    case "workspace":
      return `/Shared/dcs/${stack}/init-scripts`;
    case "dbfs":
      return `dbfs:/dcs/${stack}/init-scripts`;
    case "volumes":
      return undefined; // a volume must be named explicitly
  }
}

/** Plans the uploads and the cluster blocks; throws on an invalid combination. */
export function planInitScripts(store: InitScriptStore, folder: string, files: InitScriptFile[]): PlannedUpload[] {
  if (files.length === 0) throw new Error("no *.sh init scripts to upload");
  if (files.length > MAX_INIT_SCRIPTS) throw new Error(`${files.length} init scripts, but a cluster accepts at most ${MAX_INIT_SCRIPTS}`);
  const base = folder.replace(/\/+$/, "");
  return files.map((file) => {
    switch (store) {
      case "dbfs": {
        if (!base.startsWith("dbfs:/")) throw new Error(`DBFS folder must start with dbfs:/ (got ${folder})`);
        const destination = `${base}/${file.fileName}`;
        return { file, uploadPath: destination.slice("dbfs:".length), destination, block: { dbfs: { destination } } };
      }
      case "workspace": {
        if (!base.startsWith("/")) throw new Error(`workspace folder must be absolute (got ${folder})`);
        const destination = `${base}/${file.fileName}`;
        return { file, uploadPath: destination, destination, block: { workspace: { destination } } };
      }
      case "volumes": {
        if (!base.startsWith("/Volumes/")) throw new Error(`volume folder must start with /Volumes/ (got ${folder})`);
        const destination = `${base}/${file.fileName}`;
        return { file, uploadPath: destination, destination, block: { volumes: { destination } } };
      }
    }
  });
}

export interface InitScriptsArgs {
  /** Store to upload to. Default: workspace. */
  store?: InitScriptStore;
  /** Destination folder (dbfs:/..., /Shared/..., /Volumes/...). */
  folder: string;
  /** Local folder whose *.sh files are uploaded. */
  dir: string;
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
}

export class InitScripts extends pulumi.ComponentResource {
  /** The cluster's `initScripts` blocks, in run order. */
  public readonly blocks: InitScriptBlock[];
  /** Destinations as the cluster sees them. */
  public readonly destinations: string[];
  /** The upload resources, for the cluster's `dependsOn`. */
  public readonly uploads: pulumi.Resource[];
  /** Content hash of the scripts, for the cluster's Spark environment (SCRIPTS_HASH_VAR). */
  public readonly contentHash: string;
  /** Spark configuration the cluster needs for this store. */
  public readonly sparkConf: Record<string, string>;

  constructor(name: string, args: InitScriptsArgs, opts?: pulumi.ComponentResourceOptions) {
    const store = args.store ?? "workspace";
    // Rejected before registration: nothing, not even this component, is declared.
    let planned: PlannedUpload[];
    try {
      planned = planInitScripts(store, args.folder, readInitScripts(args.dir));
    } catch (e) {
      throw new Error(`InitScripts "${name}": ${(e as Error).message}`);
    }
    super("dcs:index:InitScripts", name, {}, opts);
    if (store === "dbfs") pulumi.log.warn(DBFS_DEPRECATION, this);

    const childOpts = { parent: this, provider: args.provider };
    this.uploads = planned.map(({ file, uploadPath }) => {
      const resourceName = childName(name, file.fileName.replace(/\.sh$/, "").replace(/[^A-Za-z0-9-]+/g, "-"));
      const fileArgs = { path: uploadPath, contentBase64: file.contentBase64 };
      switch (store) {
        case "dbfs":
          return new databricks.DbfsFile(resourceName, fileArgs, childOpts);
        case "workspace":
          return new databricks.WorkspaceFile(resourceName, fileArgs, childOpts);
        case "volumes":
          return new databricks.File(resourceName, fileArgs, childOpts);
      }
    });
    this.blocks = planned.map((p) => p.block);
    this.contentHash = scriptsHash(planned.map((p) => p.file));
    this.sparkConf = storeSparkConf(store);
    this.destinations = planned.map((p) => p.destination);
    this.registerOutputs({ destinations: this.destinations, contentHash: this.contentHash });
  }
}
