/**
 * Reading resource properties that may not be known yet. Values not known
 * yet never violate: the engine's unknown sentinels (CrossGuard during a
 * preview), the offline renderer's "(computed: ...)" placeholders, and, for a
 * recorded preview, `undefined` (see `UndefinedMeans`).
 */
import { CLUSTER, INSTANCE_POOL, REGISTRY, type Props, type StackResource, type UndefinedMeans } from "./types";

/**
 * The sentinels the Pulumi engine sends for values not known during a preview: the generic one
 * (string) and the typed ones (boolean, number, array, asset, archive, object). A test compares
 * them with @pulumi/policy's own list.
 */
export const ENGINE_UNKNOWN_SENTINELS: readonly string[] = [
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
];
const SENTINELS = new Set(ENGINE_UNKNOWN_SENTINELS);

export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * True for a marker of a value not known yet: an engine sentinel, a renderer's "(computed: ...)"
 * placeholder, the Pulumi SDK's `unknown` (what mocks deserialize an unknown to during a preview),
 * or an Output a recorder left unresolved.
 */
export function isUnknownMarker(value: unknown): boolean {
  if (typeof value === "string") return SENTINELS.has(value) || value.startsWith("(computed:");
  return isRecord(value) && (value.__pulumiUnknown === true || value.__pulumiOutput === true);
}

/** True when `value` is not known yet; `undefined` counts unless it means "absent". */
export function isUnknown(value: unknown, undefinedMeans: UndefinedMeans = "unknown"): boolean {
  return isUnknownMarker(value) || (value === undefined && undefinedMeans === "unknown");
}

/** Pulumi's wire format of a secret (what mocks hand a recorder): the value under a signature. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A secret's value; anything else as it is. The rules judge values, secret or not. */
export function unwrapSecret(value: unknown): unknown {
  return isRecord(value) && value[SECRET_SIG_KEY] === SECRET_SIG ? unwrapSecret(value.value) : value;
}

/** What reading a property path returns when a step of it is not known yet. */
export const UNKNOWN: unique symbol = Symbol("unknown");

/**
 * The value of a schema property at a dotted path (`dockerImage.basicAuth.password`): `UNKNOWN`
 * when a step is not known yet, `undefined` when a step is absent. In "unknown" mode an
 * undefined step is `UNKNOWN`: a recorded preview cannot tell absent from not known.
 */
export function read(props: Props, dotted: string, undefinedMeans: UndefinedMeans): unknown {
  let value: unknown = props;
  for (const key of dotted.split(".")) {
    if (!isRecord(value)) return undefined;
    value = unwrapSecret(value[key]);
    if (isUnknown(value, undefinedMeans)) return UNKNOWN;
  }
  return value;
}

/** The property holding a resource's tag map: `customTags` on a cluster and a pool, `tags` elsewhere (a registry, a job). */
export function tagMapOf(type: string): string {
  return type === CLUSTER || type === INSTANCE_POOL ? "customTags" : "tags";
}

/**
 * A tag of a resource (in its `tagMapOf` map). A known tag map lists its keys, so a key it lacks
 * is absent in either mode; a key present with an undefined value is not known yet in "unknown"
 * mode.
 */
export function readTag(type: string, props: Props, tag: string, undefinedMeans: UndefinedMeans): unknown {
  return readTagIn(props, tagMapOf(type), tag, undefinedMeans);
}

/** A tag in the map at `mapKey` of `props` (a job cluster's `customTags`, its job's `tags`), read as `readTag` does. */
export function readTagIn(props: Props, mapKey: string, tag: string, undefinedMeans: UndefinedMeans): unknown {
  const tags = read(props, mapKey, undefinedMeans);
  if (tags === UNKNOWN) return UNKNOWN;
  if (!isRecord(tags) || !(tag in tags)) return undefined;
  const value = unwrapSecret(tags[tag]);
  return isUnknown(value, undefinedMeans) ? UNKNOWN : value;
}

/** The stack name in a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn ?? "")?.[1];
}

/** Whether a cluster runs a custom container: true, false, or UNKNOWN. */
export function runsContainer(props: Props, undefinedMeans: UndefinedMeans): boolean | typeof UNKNOWN {
  const image = read(props, "dockerImage", undefinedMeans);
  if (image === UNKNOWN) return UNKNOWN;
  return isRecord(image);
}

/**
 * Image hosts the registries of a stack serve: each registry's `loginServer`, and
 * `<name>.azurecr.io` from its name (the `registryName` input, or the `name` output a stack
 * policy sees after an update). `complete` is false when a registry has none of them (not known
 * yet, or not recorded): then no image host can be ruled out.
 */
export function registryHosts(stack: StackResource[]): { hosts: string[]; complete: boolean } {
  const hosts = new Set<string>();
  let complete = true;
  for (const r of stack.filter((x) => x.type === REGISTRY)) {
    const login = read(r.props, "loginServer", "absent");
    const names = [read(r.props, "registryName", "absent"), read(r.props, "name", "absent")].filter((n): n is string => typeof n === "string");
    if (typeof login === "string") hosts.add(login.toLowerCase());
    for (const n of names) hosts.add(`${n.toLowerCase()}.azurecr.io`);
    if (typeof login !== "string" && names.length === 0) complete = false;
  }
  return { hosts: [...hosts].sort(), complete };
}

/** The host part of an image reference. */
export function hostOf(url: string): string {
  return url.split("/")[0].toLowerCase();
}

