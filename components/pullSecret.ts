/**
 * PullSecret: where the cluster's registry password lives. The cluster never
 * carries the client secret itself: Databricks shows `basic_auth` values to
 * other users of the workspace through the UI and the API, while a
 * `{{secrets/<scope>/<key>}}` reference is resolved by Databricks when the
 * cluster starts, with the permissions of the cluster's owner.
 *
 * Two ways:
 * - declared (the default): a Databricks-backed secret scope, the secret, and
 *   a READ grant per principal that starts the cluster (its owner first);
 * - external: a reference to a secret someone else keeps (a security team
 *   owning the scopes); nothing is declared and the reference is reported as
 *   a prerequisite.
 *
 * Databricks rules relied on:
 * - the creator of a scope (the identity running `pulumi up`) gets MANAGE on
 *   it when no initial manage principal is given (provider docs,
 *   secret_scope); granting `users` MANAGE would let everyone read the secret;
 * - a secret reference in cluster configuration is resolved at cluster start
 *   and needs READ on the scope for the cluster's owner ("Use a secret in a
 *   Spark configuration property or environment variable": requirements); the
 *   owner is the cluster's creator, the identity running `pulumi up`, which
 *   holds MANAGE; the principal the cluster is assigned to and whoever else
 *   starts it get READ as well; a changed secret reaches a running cluster at
 *   its next start;
 * - an ACL is one permission per principal, and put-acl replaces it: a READ
 *   grant to the identity running `pulumi up` would take its MANAGE away (and
 *   with it the right to update the secret). So a reader who is that identity
 *   (`getCurrentUser`: a user's name, a service principal's application id)
 *   is granted MANAGE instead, which it holds already; identities that deploy
 *   later (a pipeline after a first deployment from a laptop) are `managers`;
 * - scope and key names: up to 128 letters, digits, '-', '_' and '.';
 * - Secret and SecretAcl have no update in the provider: any change replaces
 *   them under the same id, and Pulumi's create-before-delete would then
 *   delete what it just wrote (pulumi/pulumi-databricks#642), so both are
 *   replaced delete-first.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { childName } from "./naming";

/** What a secret scope name may be (Databricks: alphanumerics, '-', '_', '.', at most 128). */
export const SECRET_SCOPE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** What a secret key may be (same characters, at most 128). */
export const SECRET_KEY_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** The `{{secrets/<scope>/<key>}}` reference Databricks resolves in cluster configuration. */
export function secretReference(scope: string, key: string): string {
  return `{{secrets/${scope}/${key}}}`;
}

/** Scope and key of a `{{secrets/<scope>/<key>}}` reference, or undefined when it is not one. */
export function parseSecretReference(ref: string): { scope: string; key: string } | undefined {
  const m = /^\{\{secrets\/([^/{}]+)\/([^/{}]+)\}\}$/.exec(ref);
  return m ? { scope: m[1], key: m[2] } : undefined;
}

/** Principals each once, case aside (Databricks user names and application ids are not case-sensitive), in order. */
function distinct(principals: readonly string[]): string[] {
  const seen = new Set<string>();
  return principals
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && !seen.has(p.toLowerCase()) && seen.add(p.toLowerCase()) !== undefined);
}

/** The principals that get READ: the cluster's owner first, then the others, each once. */
export function readersOf(owner: string, others: readonly string[] = []): string[] {
  return distinct([owner, ...others]);
}

/** The permission a principal gets: MANAGE for the identity running `pulumi up` (never taken away), READ for anyone else. */
export function permissionFor(principal: string, deployer: string | undefined, wanted: "READ" | "MANAGE"): "READ" | "MANAGE" {
  return deployer !== undefined && principal.toLowerCase() === deployer.toLowerCase() ? "MANAGE" : wanted;
}

/** A child name for a principal: letters, digits and '-', so e-mail addresses and ids stay readable. */
export function principalSlug(principal: string): string {
  return principal.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

export type PullSecretArgs =
  | {
      /** Declare the scope, the secret and the grants. */
      mode: "declared";
      /** Secret scope name. */
      scope: string;
      /** Key of the secret in the scope. */
      key: string;
      /** The pull identity's client secret (a Pulumi secret; it stays one). */
      value: pulumi.Input<string>;
      /** Further secrets in the same scope, one per image with a key of its own (each a Pulumi secret). Default: none. */
      more?: { key: string; value: pulumi.Input<string> }[];
      /** Principals that get READ: the cluster's owner and whoever else starts the cluster. */
      readers: string[];
      /** Principals that get MANAGE: identities that deploy the stack besides the one that created the scope. Default: none. */
      managers?: string[];
      /** Workspace-level Databricks provider. */
      provider: databricks.Provider;
    }
  | {
      /** Use a secret someone else keeps. */
      mode: "external";
      /** Its `{{secrets/<scope>/<key>}}` reference. */
      reference: string;
      /** Principals that must be able to read it (reported as prerequisites). */
      readers: string[];
    };

/** Problems with PullSecretArgs, as messages; empty when valid. */
export function validatePullSecretArgs(args: PullSecretArgs): string[] {
  const problems: string[] = [];
  if (args.mode === "external") {
    if (!parseSecretReference(args.reference)) problems.push(`reference "${args.reference}" is not {{secrets/<scope>/<key>}}`);
  } else {
    if (!SECRET_SCOPE_NAME.test(args.scope)) problems.push(`scope "${args.scope}" must be 1-128 letters, digits, '-', '_' or '.'`);
    const keys = [args.key, ...(args.more ?? []).map((m) => m.key)];
    for (const key of keys) {
      if (!SECRET_KEY_NAME.test(key)) problems.push(`key "${key}" must be 1-128 letters, digits, '-', '_' or '.'`);
    }
    const twice = keys.filter((k, i) => keys.indexOf(k) !== i);
    if (twice.length > 0) problems.push(`keys ${[...new Set(twice)].join(", ")} are used twice in the scope`);
  }
  if (args.readers.length === 0) problems.push("at least one reader (the cluster's owner) is required");
  const grantees = [...args.readers, ...(args.mode === "declared" ? (args.managers ?? []) : [])];
  const bySlug = new Map<string, string>();
  for (const p of distinct(grantees)) {
    const other = bySlug.get(principalSlug(p));
    if (other !== undefined) problems.push(`principals "${other}" and "${p}" would share the resource name read-${principalSlug(p)}; list only one of them`);
    bySlug.set(principalSlug(p), p);
  }
  if (args.mode === "declared") {
    const both = distinct(args.readers).filter((r) => (args.managers ?? []).some((m) => m.toLowerCase() === r.toLowerCase()));
    if (both.length > 0) problems.push(`${both.join(", ")} listed as reader and manager; a principal has one permission on a scope`);
  }
  return problems;
}

export class PullSecret extends pulumi.ComponentResource {
  /** The `{{secrets/<scope>/<key>}}` reference the cluster's basic auth uses. */
  public readonly reference: string;
  /** What the cluster must wait for: the secret and its READ grants (none when external). */
  public readonly ready: pulumi.Resource[];
  /** What someone outside the stack must have done first (empty when declared). */
  public readonly prerequisites: string[];
  /** The references of the further secrets, by key (declared mode). */
  public readonly moreReferences: Record<string, string> = {};

  constructor(name: string, args: PullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validatePullSecretArgs(args);
    if (problems.length > 0) throw new Error(`PullSecret "${name}": ${problems.join("; ")}`);
    super("dcs:index:PullSecret", name, {}, opts);

    if (args.mode === "external") {
      const { scope, key } = parseSecretReference(args.reference)!;
      this.reference = args.reference;
      this.ready = [];
      this.prerequisites = [
        `Databricks secret ${args.reference} exists (scope "${scope}", key "${key}") and holds the pull identity's client secret; ` +
          `a MANAGE holder of the scope has granted READ on it to ${args.readers.join(", ")}`,
      ];
    } else {
      const childOpts = { parent: this, provider: args.provider };
      const scope = new databricks.SecretScope(childName(name, "scope"), { name: args.scope }, childOpts);
      const replaceDeleteFirst = { ...childOpts, deleteBeforeReplace: true };
      const secret = new databricks.Secret(childName(name, "secret"), { scope: scope.name, key: args.key, stringValue: pulumi.secret(args.value) }, replaceDeleteFirst);
      const more = (args.more ?? []).map(
        (m) => new databricks.Secret(childName(name, `secret-${m.key}`), { scope: scope.name, key: m.key, stringValue: pulumi.secret(m.value) }, replaceDeleteFirst),
      );
      for (const m of args.more ?? []) this.moreReferences[m.key] = secretReference(args.scope, m.key);
      // Who runs this deployment: a user's name, or a service principal's application id.
      const deployer = databricks.getCurrentUserOutput({}, { parent: this, provider: args.provider }).apply((u) => u.userName);
      const grant = (principal: string, wanted: "READ" | "MANAGE", prefix: string) =>
        new databricks.SecretAcl(
          childName(name, `${prefix}-${principalSlug(principal)}`),
          { scope: scope.name, principal, permission: deployer.apply((d) => permissionFor(principal, d, wanted)) },
          // After the secret: the grants never stand between the deployer and its first write.
          { ...replaceDeleteFirst, dependsOn: [secret] },
        );
      const acls = [...distinct(args.readers).map((p) => grant(p, "READ", "read")), ...distinct(args.managers ?? []).map((p) => grant(p, "MANAGE", "manage"))];
      this.reference = secretReference(args.scope, args.key);
      this.ready = [secret, ...more, ...acls];
      this.prerequisites = [];
    }
    this.registerOutputs({ reference: this.reference, prerequisites: this.prerequisites });
  }
}
