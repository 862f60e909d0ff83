/**
 * What a rendering shows of values that must not, or cannot, be shown as
 * they are: secrets masked (only the secret field where its value is known),
 * secret wrappers removed for the program, file contents as a hash and size,
 * and an ACR task's base64 YAML decoded.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** What a rendering shows in place of a secret value. */
export const SECRET_MARK = "[secret]";

/** A plain object (not an array, not null). */
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Replaces every occurrence of a known secret value in a string. */
function scrub(text: string, knownSecrets: readonly string[]): { text: string; hit: boolean } {
  let out = text;
  for (const secret of knownSecrets) if (secret.length > 0) out = out.split(secret).join(SECRET_MARK);
  return { text: out, hit: out !== text };
}

/**
 * Replaces secret values with SECRET_MARK; reports whether any secret was found.
 * The SDK marks a whole object secret when one field is; where the secret
 * value is known (it came from config), only that field is masked so the
 * rest (an image URL, say) stays reviewable. Otherwise the whole value is.
 */
export function redact(value: unknown, knownSecrets: readonly string[]): { value: unknown; secret: boolean } {
  if (pulumi.runtime.isRpcSecret(value)) {
    const inner = unwrapSecrets(value);
    const masked = redact(inner, knownSecrets);
    const serialized = JSON.stringify(masked.value) ?? "";
    const precise = masked.secret && !knownSecrets.some((s) => s.length > 0 && serialized.includes(s));
    return { value: precise ? masked.value : SECRET_MARK, secret: true };
  }
  if (typeof value === "string") {
    const r = scrub(value, knownSecrets);
    return { value: r.text, secret: r.hit };
  }
  if (Array.isArray(value)) {
    let secret = false;
    const out = value.map((v) => {
      const r = redact(v, knownSecrets);
      secret ||= r.secret;
      return r.value;
    });
    return { value: out, secret };
  }
  if (isObject(value)) {
    let secret = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = redact(v, knownSecrets);
      secret ||= r.secret;
      out[k] = r.value;
    }
    return { value: out, secret };
  }
  return { value, secret: false };
}

/** Removes the secret wrappers so the program sees plain values in outputs. */
export function unwrapSecrets(value: unknown): unknown {
  if (pulumi.runtime.isRpcSecret(value)) return unwrapSecrets(pulumi.runtime.unwrapRpcSecret(value));
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}

/**
 * Makes encoded contents reviewable: file contents become a hash and size
 * (diffs stay readable, changes stay visible); an ACR task's base64 YAML is
 * shown decoded.
 */
export function summarizeContent(inputs: Record<string, unknown>): Record<string, unknown> {
  const out = { ...inputs };
  if (typeof out.contentBase64 === "string") {
    const bytes = Buffer.from(out.contentBase64, "base64");
    out.contentBase64 = `sha256:${createHash("sha256").update(bytes).digest("hex")} (${bytes.length} bytes)`;
  }
  const step = out.step;
  if (isObject(step) && typeof step.encodedTaskContent === "string" && !step.encodedTaskContent.startsWith("(computed")) {
    out.step = { ...step, encodedTaskContent: `base64 of: ${Buffer.from(step.encodedTaskContent, "base64").toString("utf8")}` };
  }
  return out;
}
