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
 *   and needs READ on the scope ("Use a secret in a Spark configuration
 *   property or environment variable": requirements), so the principal the
 *   cluster is assigned to and whoever else starts it get READ; a changed
 *   secret reaches a running cluster at its next start;
 * - an ACL is one permission per principal: a READ grant to the deploying
 *   identity would replace its MANAGE, so it is never listed as a reader;
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

/** The principals that get READ: the cluster's owner first, then the others, each once. */
export function readersOf(owner: string, others: readonly string[] = []): string[] {
  return [...new Set([owner, ...others].map((p) => p.trim()).filter((p) => p.length > 0))];
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
      /** Principals that get READ: the cluster's owner and whoever else starts the cluster. */
      readers: string[];
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
    if (!SECRET_KEY_NAME.test(args.key)) problems.push(`key "${args.key}" must be 1-128 letters, digits, '-', '_' or '.'`);
  }
  if (args.readers.length === 0) problems.push("at least one reader (the cluster's owner) is required");
  return problems;
}

export class PullSecret extends pulumi.ComponentResource {
  /** The `{{secrets/<scope>/<key>}}` reference the cluster's basic auth uses. */
  public readonly reference: string;
  /** What the cluster must wait for: the secret and its READ grants (none when external). */
  public readonly ready: pulumi.Resource[];
  /** What someone outside the stack must have done first (empty when declared). */
  public readonly prerequisites: string[];

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
      const acls = args.readers.map(
        (principal) => new databricks.SecretAcl(childName(name, `read-${principalSlug(principal)}`), { scope: scope.name, principal, permission: "READ" }, replaceDeleteFirst),
      );
      this.reference = secretReference(args.scope, args.key);
      this.ready = [secret, ...acls];
      this.prerequisites = [];
    }
    this.registerOutputs({ reference: this.reference, prerequisites: this.prerequisites });
  }
}
