/**
 * RegistryRetention: a scheduled ACR task that purges old image tags, so
 * images do not pile up (every change to the build context pushes a new tag,
 * and the Docker provider never deletes a tag it pushed).
 *
 * The task runs `acr purge` (Azure/acr-cli; Microsoft's "Automatically purge
 * images from an Azure container registry"), inside the registry, on a timer
 * trigger; a task running in the registry is authorised against its own
 * registry, so no credential is declared. It keeps the newest `keepTags` tags
 * of the repository (`--keep`) and never the tag clusters use now: that tag is
 * left out of the filter altogether, by a regular expression that matches
 * every content tag but it. Only content tags are purged (see CONTENT_TAG).
 * Untagged manifests go too (`--untagged`).
 *
 * The expression is written for every engine acr-cli has used (Go's RE2, now
 * dlclark/regexp2): no look-ahead, no `(?:` (the filter splits repository and
 * tag at a ':'), anchored itself (acr-cli does not anchor the tag part), and
 * without `$`, which ACR task YAML reads as the start of an alias: the end of
 * the tag is `\z`, which both engines read as end of text.
 */
import * as pulumi from "@pulumi/pulumi";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import { childName } from "./naming";

/** Escapes a literal for a regular expression (RE2 and JavaScript agree on these). */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** End of text in RE2 and regexp2 (no `$`: see above). */
export const END_OF_TEXT = "\\z";

const DIGITS = "0123456789";
const CONTENT_TAG_REST = `${DIGITS}abcdefghijklmnopqrstuvwxyz.-`;

/**
 * The shape of the content tags `ClusterImage` pushes (`<runtime>-<12 hex>`,
 * e.g. `16.4-lts-3f2a9c1b7d0e`): a digit first, then digits, lower-case
 * letters, '.' and '-'. The purge touches only tags of this shape, so a tag a
 * person or a pipeline set by hand (`buildcache`, `v1`, `latest`) is never purged.
 */
export const CONTENT_TAG = /^[0-9][0-9a-z.-]*$/;

/** A character class of `chars` (ranges where they run on), for RE2 and JavaScript alike. */
function charClass(chars: string): string {
  const codes = [...new Set(chars)].map((c) => c.charCodeAt(0)).sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < codes.length; ) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === codes[j] + 1) j++;
    const from = String.fromCharCode(codes[i]);
    const to = String.fromCharCode(codes[j]);
    const esc = (c: string) => (/[\]\\^-]/.test(c) ? `\\${c}` : c);
    parts.push(j - i >= 2 ? `${esc(from)}-${esc(to)}` : codes.slice(i, j + 1).map((c) => esc(String.fromCharCode(c))).join(""));
    i = j + 1;
  }
  return `[${parts.join("")}]`;
}

/**
 * An anchored regular expression matching every content tag (CONTENT_TAG)
 * except `tag`: a proper prefix of it, a tag that departs from it at some
 * character, or the tag followed by more. Nothing outside the content-tag
 * shape matches.
 */
export function regexExcept(tag: string): string {
  if (!CONTENT_TAG.test(tag)) throw new Error(`regexExcept needs a content tag such as 16.4-lts-3f2a9c1b7d0e, got "${tag}"`);
  const rest = charClass(CONTENT_TAG_REST);
  const alternatives: string[] = [];
  for (let i = 0; i < tag.length; i++) {
    const before = escapeRegex(tag.slice(0, i));
    const allowed = (i === 0 ? DIGITS : CONTENT_TAG_REST).replace(tag[i], "");
    alternatives.push(`${before}${charClass(allowed)}${rest}*`);
    if (i > 0) alternatives.push(before);
  }
  alternatives.push(`${escapeRegex(tag)}${rest}+`);
  return `^(${alternatives.join("|")})${END_OF_TEXT}`;
}

/** The `acr purge` command for one repository. */
export function purgeCommand(repository: string, inUseTag: string, keepTags: number): string {
  if (!Number.isInteger(keepTags) || keepTags < 1) throw new Error(`keepTags must be a whole number of at least 1, got ${keepTags}`);
  return `acr purge --filter '${repository}:${regexExcept(inUseTag)}' --ago 0d --keep ${keepTags} --untagged`;
}

/** The task definition (ACR task YAML) that runs the purge; base64 is what the API takes. The command is a double-quoted YAML string. */
export function purgeTaskYaml(command: string, timeoutSeconds = 3600): string {
  if (command.includes("$")) throw new Error("an ACR task command may not contain $ (ACR reads it as an alias)");
  return ["version: v1.1.0", "steps:", `  - cmd: ${JSON.stringify(command)}`, "    disableWorkingDirectoryOverride: true", `    timeout: ${timeoutSeconds}`, ""].join("\n");
}

export interface RegistryRetentionArgs {
  /** Registry name. */
  registryName: pulumi.Input<string>;
  /** Resource group of the registry. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region of the registry. */
  location: string;
  /** Repository to purge, e.g. hydrology/dask. */
  repository: string;
  /** Name of the ACR task, unique in the registry (one task per repository). Default: dcs-purge. */
  taskName?: string;
  /** Tag the clusters use now; never purged. */
  inUseTag: pulumi.Input<string>;
  /** Newest tags kept besides the one in use. Default: 10. */
  keepTags?: number;
  /** Cron schedule in UTC. Default: daily at 03:00. */
  schedule?: string;
  /** Tags of the task. Default: none. */
  tags?: Record<string, string>;
}

export class RegistryRetention extends pulumi.ComponentResource {
  /** The purge command the task runs (with the in-use tag resolved). */
  public readonly command: pulumi.Output<string>;

  constructor(name: string, args: RegistryRetentionArgs, opts?: pulumi.ComponentResourceOptions) {
    const keepTags = args.keepTags ?? 10;
    purgeCommand(args.repository, "0", keepTags); // rejected before registration
    super("dcs:index:RegistryRetention", name, {}, opts);

    this.command = pulumi.output(args.inUseTag).apply((tag) => purgeCommand(args.repository, tag, keepTags));
    new containerregistry.Task(
      childName(name, "purge"),
      {
        registryName: args.registryName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        // A task is a child resource of its registry (ARM id .../registries/<registry>/tasks/<taskName>,
        // azure-native containerregistry.Task), so its name is unique in the registry: a second
        // repository's purge needs a name of its own.
        taskName: args.taskName ?? "dcs-purge",
        platform: { os: "Linux", architecture: "amd64" },
        agentConfiguration: { cpu: 2 },
        status: "Enabled",
        timeout: 3600,
        step: { type: "EncodedTask", encodedTaskContent: this.command.apply((c) => Buffer.from(purgeTaskYaml(c)).toString("base64")) },
        trigger: { timerTriggers: [{ name: "purge-schedule", schedule: args.schedule ?? "0 3 * * *", status: "Enabled" }] },
        tags: args.tags,
      },
      { parent: this },
    );
    this.registerOutputs({ command: this.command });
  }
}
