/**
 * For the configuration tests: a committed stack file's dcs:* values to mutate,
 * and the parser run as the program runs it, its problems read back.
 */
import * as path from "node:path";
import { ConfigError, parseStackConfig } from "../../stacks/config";
import { readStackFile } from "../../stacks/render/engine";
import { ROOT } from "./record";

// Stack files are free-form YAML; cases reach into them by key.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Raw = Record<string, Record<string, any>>;

/** A stack file's dcs:* values, keys without namespace, deep-copied so a case can mutate them. */
export function stackRaw(stack: string): Raw {
  const { values } = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) if (k.startsWith("dcs:")) raw[k.slice(4)] = structuredClone(v);
  return raw as Raw;
}

export const SECRET = "pull-secret-value-for-tests";
export function parse(raw: Record<string, unknown>, stack = "dev", secretKeys = ["dcs:pullClientSecret", "dcs:pushClientSecret"]) {
  return parseStackConfig(raw, { stack, secretKeys: new Set(secretKeys) });
}
export function parseTeam(raw: Record<string, unknown>, stack = "dev") {
  const c = parse(raw, stack);
  if (c.kind !== "team") throw new Error("expected a team stack");
  return c;
}
export function devWithSecret(): Raw {
  return { ...stackRaw("dev"), pullClientSecret: SECRET } as unknown as Raw;
}
export function problemsOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

