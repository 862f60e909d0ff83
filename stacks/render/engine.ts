/**
 * A recording engine: runs the real program (stacks/index.ts, the entry
 * `pulumi up` runs) in-process against the Pulumi SDK's mock hooks and
 * records what the engine would receive: every resource with its inputs,
 * parent, provider, dependencies and options, every invoke, every warning,
 * and the stack outputs. No CLI, no cloud, no credentials.
 *
 * Cloud-only values (ids, login server, digests) come back either as marked
 * placeholders, the way a preview shows unknowns ("placeholders"), or as
 * deterministic stand-ins that look like the real thing ("simulated", for
 * tests and policy checks).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeRpc from "@pulumi/pulumi/runtime/rpc";
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import { parse as parseYaml } from "yaml";
import { evaluateStack, type Finding } from "../../policy/rules";
import { decodeConfigValue, imagesNeedingOwnSecret, NAMESPACE, runtimeOfImageTag, secretKeysNeeded } from "../config";
import { PLATFORM_OUTPUTS } from "../platformContract";
import { isObject, redact, SECRET_MARK, summarizeContent, unwrapSecrets } from "./redaction";
import { cloudState, computed, invokeAnswer, type CloudMode } from "./standins";

export { computed, type CloudMode } from "./standins";
export { SECRET_MARK } from "./redaction";

/** What a rendering is made from. */
export interface RenderOptions {
  /** Stack name; its config comes from Pulumi.<stack>.yaml. */
  stack: string;
  /** Project root (holds Pulumi.yaml). Default: the repository this file is in. */
  projectRoot?: string;
  /** Full keys (dcs:clusters, ...) replacing or adding to the stack file's values; null removes one. */
  configOverrides?: Record<string, unknown>;
  /** Secret values by full key; missing secrets get marked placeholders. */
  secrets?: Record<string, string>;
  /** Placeholders (default) or simulated cloud values. */
  cloud?: CloudMode;
  /** Loads the program; default: a fresh import of stacks/index.ts. */
  load?: () => Promise<Record<string, unknown>>;
  /** Outputs of referenced stacks, by the name the program gives; replaces rendering them from this repository. */
  stackReferences?: Record<string, Record<string, unknown>>;
}

/** A resource as the engine would have received it. */
export interface RenderedResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent (component or stack). */
  parent?: string;
  /** Provider reference (URN::id) for custom resources. */
  provider?: string;
  custom: boolean;
  /** Inputs with secret values replaced by "[secret]". */
  inputs: Record<string, unknown>;
  /** Top-level inputs that hold a secret. */
  secretInputs: string[];
  /** URNs this resource depends on (explicit and through inputs). */
  dependencies: string[];
  protect: boolean;
  retainOnDelete: boolean;
  /** Replaced by deleting first, then creating (the deleteBeforeReplace option). */
  deleteBeforeReplace: boolean;
  /** URNs this resource was known by before (the aliases option): state under them is kept, not replaced. */
  aliases: string[];
  /** Read, not managed: the program reads an existing resource (a StackReference, say). */
  read?: boolean;
}

export interface RenderedInvoke {
  token: string;
  args: Record<string, unknown>;
  /** What the answer was based on. */
  answeredFrom: string;
}

export interface Rendering {
  project: string;
  stack: string;
  cloud: CloudMode;
  resources: RenderedResource[];
  invokes: RenderedInvoke[];
  /** Stack outputs; secret outputs are "[secret]". */
  outputs: Record<string, unknown>;
  warnings: string[];
  /** Secret keys the stack file lacked and that were given placeholders. */
  placeholderSecrets: string[];
  /** What the dcs-guardrails policies report for this rendering. */
  findings: Finding[];
}

/** Runs the policy pack's rules over recorded resources, as CrossGuard would over a preview. */
export function guardrailFindings(resources: RenderedResource[]): Finding[] {
  return evaluateStack(resources.filter((r) => r.custom).map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs, protect: r.protect })));
}

/** The program failed; carries what had been declared by then (for "nothing was created" checks). */
export class RenderError extends Error {
  constructor(
    message: string,
    /** Resources registered before the failure. */
    public readonly recorded: RenderedResource[],
  ) {
    super(message);
    this.name = "RenderError";
  }
}

const defaultRoot = path.resolve(__dirname, "..", "..");

/** Reads a stack file's `config:` block as full key -> value and the set of encrypted keys. */
export function readStackFile(file: string): { values: Record<string, unknown>; encrypted: Set<string> } {
  if (!fs.existsSync(file)) throw new Error(`${path.basename(file)} not found: create it with \`pulumi stack init\` or copy Pulumi.dev.yaml`);
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, unknown> = {};
  const encrypted = new Set<string>();
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value !== null && typeof value === "object" && "secure" in value) encrypted.add(key);
    else values[key] = value;
  }
  return { values, encrypted };
}

/** The URN the Pulumi engine gives a resource of `type` named `name` under `parent` (a URN, or "" for none). */
export function engineUrn(stack: string, project: string, parent: string, type: string, name: string): string {
  const parentType = parent ? (parent.split("::")[2] ?? "") : "";
  const qualified = parentType === "" || parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

interface MonitorRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProvider(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getDeletebeforereplace(): boolean;
  getAliasesList?(): { getUrn(): string; getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean } | undefined }[];
  getDependenciesList(): string[];
  getObject(): Parameters<typeof runtimeRpc.deserializeProperties>[0];
}

interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProvider(): string;
  getId(): string;
  getDependenciesList(): string[];
  getProperties(): Parameters<typeof runtimeRpc.deserializeProperties>[0];
}

interface MockMonitorLike {
  registerResource(req: MonitorRequest, callback: unknown): Promise<void>;
  readResource(req: ReadRequest, callback: unknown): Promise<void>;
  newUrn(parent: string, type: string, name: string): string;
}

/**
 * What a loaded entry exports, run: the program exports an async function
 * (`export =`), which the Pulumi runtime calls and awaits; an ES import of it
 * holds it under `default`. Plain objects of outputs pass through.
 */
async function runExports(loaded: unknown): Promise<Record<string, unknown>> {
  let value = loaded;
  if (isObject(value) && typeof value.default === "function") value = value.default;
  if (typeof value === "function") value = await (value as () => unknown)();
  return (value ?? {}) as Record<string, unknown>;
}

/** Purges the program's modules from the CommonJS cache so a second render runs it anew. */
function freshRequire(entry: string, root: string): Record<string, unknown> {
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(path.join(root, "stacks")) || key.startsWith(path.join(root, "components"))) {
      if (!key.includes(`${path.sep}render${path.sep}`) && !key.includes(`${path.sep}config${path.sep}`)) delete require.cache[key];
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(entry) as Record<string, unknown>;
}

/** Renders one stack: runs the program under the recording engine. */
export async function renderStack(options: RenderOptions): Promise<Rendering> {
  const root = options.projectRoot ?? defaultRoot;
  const mode = options.cloud ?? "placeholders";
  const project = String((parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name);
  const { values, encrypted } = readStackFile(path.join(root, `Pulumi.${options.stack}.yaml`));
  for (const [k, v] of Object.entries(options.configOverrides ?? {})) {
    // null removes a key of the stack file (to render the stack without it).
    if (v === null) delete values[k];
    else values[k] = v;
  }

  // Secrets: given ones, then the stack file's encrypted ones, then placeholders for what the config needs.
  const secretKeys = new Set<string>();
  const placeholderSecrets: string[] = [];
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  const needed = new Set([...encrypted, ...secretKeysNeeded(values).map((k) => `${NAMESPACE}:${k}`)]);
  for (const [k, v] of Object.entries(options.secrets ?? {})) {
    config[k] = v;
    secretKeys.add(k);
  }
  for (const k of [...needed].sort()) {
    if (secretKeys.has(k)) continue;
    // dcs:imagePullSecrets is a map: a placeholder per image that needs one.
    config[k] =
      k === `${NAMESPACE}:imagePullSecrets` ? JSON.stringify(Object.fromEntries(imagesNeedingOwnSecret(values).map((n) => [n, `(placeholder secret for ${k}.${n})`]))) : `(placeholder secret for ${k})`;
    secretKeys.add(k);
    placeholderSecrets.push(k);
  }
  const runtimeTag = String((values[`${NAMESPACE}:image`] as { runtime?: string } | undefined)?.runtime ?? "16.4-LTS");
  const entry = path.join(root, "stacks", "index.ts");
  const load = options.load ?? (async () => freshRequire(entry, root));

  // A team stack's platform stack: rendered first when it is a stack of this repository, so the
  // team rendering shows its real values; otherwise marked placeholders and a warning.
  const stackReferences: Record<string, Record<string, unknown>> = {};
  const referenceWarnings: string[] = [];
  const platformRef = (values[`${NAMESPACE}:platform`] as { stack?: string } | undefined)?.stack;
  Object.assign(stackReferences, options.stackReferences ?? {});
  if (typeof platformRef === "string" && stackReferences[platformRef] === undefined) {
    const refStack = platformRef.split("/").pop() ?? platformRef;
    if (fs.existsSync(path.join(root, `Pulumi.${refStack}.yaml`)) && refStack !== options.stack) {
      const platform = await renderStack({ stack: refStack, projectRoot: root, cloud: mode, load });
      stackReferences[platformRef] = platform.outputs;
    } else {
      stackReferences[platformRef] = Object.fromEntries(PLATFORM_OUTPUTS.map((k) => [k, computed(`${platformRef} output ${k}`)]));
      referenceWarnings.push(`platform stack ${platformRef} is not a stack of this repository (no Pulumi.${refStack}.yaml): its outputs are rendered as placeholders`);
    }
  }
  const recorded = await recordProgram({
    project,
    stack: options.stack,
    config,
    secretKeys: [...secretKeys],
    cloud: mode,
    sparkVersionAnswer: `${runtimeOfImageTag(runtimeTag) ?? "16.4"}.x-scala2.12`,
    stackReferences,
    load,
  });
  return { ...recorded, warnings: [...referenceWarnings, ...recorded.warnings], placeholderSecrets, findings: guardrailFindings(recorded.resources) };
}

/** What recordProgram needs: the program's identity, its configuration and how to load it. */
export interface RecordOptions {
  project: string;
  stack: string;
  /** Full key -> raw config value (objects as JSON text), as the CLI hands them to a program. */
  config: Record<string, string>;
  /** Keys of `config` that are secrets. */
  secretKeys: string[];
  cloud: CloudMode;
  /** The runtime key getSparkVersion answers with. Default: 16.4.x-scala2.12. */
  sparkVersionAnswer?: string;
  /** Who getCurrentUser says runs the deployment (simulated mode). Default: deployer@example.com. */
  deployer?: string;
  /** Outputs of the stacks the program reads through StackReference, by the name it gives. */
  stackReferences?: Record<string, Record<string, unknown>>;
  /** Runs the program (or any code declaring resources) and returns its exports. */
  load: () => Promise<Record<string, unknown>>;
}

/**
 * Runs `load` under the recording engine: the generic part of rendering, also
 * used by tests to record a single component.
 */
export async function recordProgram(options: RecordOptions): Promise<Omit<Rendering, "placeholderSecrets" | "findings">> {
  const { config, cloud: mode } = options;
  const secretKeys = new Set(options.secretKeys);
  pulumi.runtime.setAllConfig(config, [...secretKeys]);
  // A secret map (dcs:imagePullSecrets) is known by each of its values.
  const secretValues = (text: string): string[] => {
    const decoded = decodeConfigValue(text);
    return decoded !== null && typeof decoded === "object" ? Object.values(decoded as Record<string, unknown>).map(String) : [text];
  };
  const knownSecrets = [...secretKeys].flatMap((k) => secretValues(config[k] ?? "")).filter((v) => v.length >= 4);
  const invokes: RenderedInvoke[] = [];
  const records = new Map<string, RenderedResource>();

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "pulumi:pulumi:StackReference") {
          const name = String(args.inputs.name ?? args.name);
          return { id: name, state: { name, outputs: options.stackReferences?.[name] ?? {}, secretOutputNames: [] } };
        }
        const { id, state } = cloudState(args.type, args.name, args.inputs, mode);
        return { id, state: { ...(unwrapSecrets(args.inputs) as Record<string, unknown>), ...state } };
      },
      call(args) {
        const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
        const record = (answeredFrom: string, result: Record<string, unknown>) => {
          invokes.push({ token: args.token, args: redact(args.inputs, knownSecrets).value as Record<string, unknown>, answeredFrom });
          return result;
        };
        switch (args.token) {
          default: {
            const answer = invokeAnswer(args.token, inputs, mode, options);
            if (answer === undefined) throw new Error(`the offline renderer cannot answer invoke ${args.token}`);
            return record(answer.answeredFrom, answer.result);
          }
        }
      },
    },
    options.project,
    options.stack,
    false,
  );

  // Record what the engine receives, options included (mocks drop them).
  const monitor = runtimeSettings.getMonitor() as unknown as MockMonitorLike;
  // URNs as the engine forms them: a resource's type prefixed with every parent's type below the
  // root stack (the mocks keep only the nearest parent's type, and the root stack's), so a URN
  // in a rendering is one `pulumi up --target` or `pulumi state` accepts.
  monitor.newUrn = (parent: string, type: string, name: string) => engineUrn(options.stack, options.project, parent, type, name);
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, callback) => {
    const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    const inputs: Record<string, unknown> = {};
    const secretInputs: string[] = [];
    for (const [k, v] of Object.entries(runtimeRpc.deserializeProperties(req.getObject()))) {
      const r = redact(v, knownSecrets);
      inputs[k] = r.value;
      if (r.secret) secretInputs.push(k);
    }
    records.set(urn, {
      urn,
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent() || undefined,
      provider: req.getProvider() || undefined,
      custom: req.getCustom(),
      inputs: summarizeContent(inputs),
      secretInputs: secretInputs.sort(),
      dependencies: [...new Set(req.getDependenciesList())].sort(),
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
      aliases: (req.getAliasesList?.() ?? [])
        .map((a) => {
          const spec = a.getSpec();
          if (a.getUrn()) return a.getUrn();
          if (!spec) return "";
          const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
          return monitor.newUrn(parent, spec.getType() || req.getType(), spec.getName() || req.getName());
        })
        // Provider SDKs alias every type to its API-versioned tokens (azure-native's `/v2020...`): not the program's, left out.
        .filter((u) => u !== "" && !/\/v\d{8}[a-z0-9]*:[A-Za-z]+::[^:]*$/.test(u)),
    });
    return register(req, callback);
  };
  // Reads (StackReference): recorded as what the program reads, never as something it manages.
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = async (req, callback) => {
    const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    records.set(urn, {
      urn,
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent() || undefined,
      provider: req.getProvider() || undefined,
      custom: true,
      inputs: { ...(runtimeRpc.deserializeProperties(req.getProperties()) as Record<string, unknown>), id: req.getId() },
      secretInputs: [],
      dependencies: [...new Set(req.getDependenciesList())].sort(),
      protect: false,
      retainOnDelete: false,
      deleteBeforeReplace: false,
      aliases: [],
      read: true,
    });
    return read(req, callback);
  };
  // Warnings: without an engine the SDK writes them to the console.
  const warnings: string[] = [];
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    const line = args.map(String).join(" ");
    const m = /^warning: \[runtime\] ([\s\S]*)$/.exec(line);
    if (m) warnings.push(m[1]);
    else consoleWarn(...args);
  };

  let exported: Record<string, unknown> = {};
  let outputs: Record<string, unknown> = {};
  try {
    // A program that throws is caught here rather than inside the stack
    // resource, whose internals would otherwise leave rejections unhandled.
    let failure: unknown;
    await runInPulumiStack(async () => {
      try {
        exported = await runExports(await options.load());
      } catch (e) {
        failure = e;
      }
      return failure === undefined ? exported : {};
    });
    if (failure !== undefined) throw failure;
    for (const [key, value] of Object.entries(exported)) {
      if (value === undefined) continue; // Pulumi records no output for undefined
      if (!pulumi.Output.isInstance(value)) {
        outputs[key] = value;
        continue;
      }
      const secret = await (value as pulumi.Output<unknown> & { isSecret: Promise<boolean> }).isSecret;
      outputs[key] = secret ? SECRET_MARK : redact(await new Promise((resolve) => value.apply(resolve)), knownSecrets).value;
    }
    await (runtimeSettings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  } catch (e) {
    await (runtimeSettings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs().catch(() => undefined);
    throw new RenderError(e instanceof Error ? e.message : String(e), [...records.values()]);
  } finally {
    console.warn = consoleWarn;
  }
  outputs = Object.fromEntries(Object.entries(outputs).sort(([a], [b]) => a.localeCompare(b)));

  return {
    project: options.project,
    stack: options.stack,
    cloud: mode,
    resources: [...records.values()].sort((a, b) => a.urn.localeCompare(b.urn)),
    invokes,
    outputs,
    warnings: [...new Set(warnings)],
  };
}
