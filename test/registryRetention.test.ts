/**
 * RegistryRetention: the exclusion regex checked as a property over many
 * strings, the purge command and task YAML parsed back, and the component
 * recorded as the engine would receive it.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { CONTENT_TAG, END_OF_TEXT, purgeCommand, purgeTaskYaml, regexExcept, RegistryRetention, type RegistryRetentionArgs } from "../components/registryRetention";
import { RenderError } from "../stacks/render/engine";
import { input, one, recordResources } from "./helpers/record";

const TASK = "azure-native:containerregistry:Task";
const IN_USE = "16.4-lts-5c05959dbb65";
/** Characters an image tag may hold ([A-Za-z0-9_.-]), plus a few it may not, for substitutions. */
const ALPHABET = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", "/", ":", " ", "^", "$", "|", "(", "é"];

/** Every string at edit distance one that is not `tag` itself: substitutions, deletions, insertions. */
function neighbours(tag: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < tag.length; i++) {
    for (const c of ALPHABET) out.add(tag.slice(0, i) + c + tag.slice(i + 1));
    out.add(tag.slice(0, i) + tag.slice(i + 1));
  }
  for (let i = 0; i <= tag.length; i++) for (const c of ALPHABET) out.add(tag.slice(0, i) + c + tag.slice(i));
  out.delete(tag);
  out.delete("");
  return [...out];
}

/**
 * The expression as JavaScript reads it: RE2 and regexp2 end the text with `\z`,
 * which JavaScript spells `$` (the program avoids `$`, an alias marker in ACR task YAML).
 */
function jsRegex(re2: string): RegExp {
  expect(re2.endsWith(END_OF_TEXT)).toBe(true);
  return new RegExp(`${re2.slice(0, -END_OF_TEXT.length)}$`);
}

/** The `<repo>:<regex>` value of the command's --filter. */
function filterOf(command: string): string {
  const m = /--filter '([^']*)'/.exec(command);
  if (!m) throw new Error(`no --filter in ${command}`);
  return m[1];
}

describe("regexExcept", () => {
  const TAGS = [IN_USE, "1", "1.2-x", "9..--", "15.4-lts-000000000000", "17.3-lts-abcdefabcdef"];

  it.each(TAGS)("matches exactly the content tags other than %s", (tag) => {
    const re = jsRegex(regexExcept(tag));
    expect(re.test(tag)).toBe(false);
    // The oracle: a string matches when it has the content-tag shape and is not the tag.
    const candidates = [
      ...neighbours(tag),
      ...Array.from({ length: tag.length - 1 }, (_, n) => tag.slice(0, n + 1)),
      ...["0", "-old", ".", "x".repeat(40)].map((suffix) => tag + suffix),
      "16.4-lts-000000000000",
      "15.4-lts-5c05959dbb65",
      "16.4-lts-5c05959dbb6",
      "16.4-lts-5c05959dbb65-old",
      "latest",
      "buildcache",
      "v2",
      "16.4-LTS-5c05959dbb65",
    ];
    for (const other of candidates.filter((c) => c !== tag)) {
      expect(re.test(other), other).toBe(CONTENT_TAG.test(other));
    }
  });

  it("never matches a tag set by hand (not of the content-tag shape), so the purge leaves it alone", () => {
    const re = jsRegex(regexExcept(IN_USE));
    for (const t of ["latest", "buildcache", "stable", "v1", "Release-1", "_x", ".1"]) expect(re.test(t), t).toBe(false);
  });

  it("is anchored: the tag inside a longer string still matches, so only the tag itself is spared", () => {
    const re = jsRegex(regexExcept("1.2-x"));
    expect(re.test("11.2-x")).toBe(true);
    expect(re.test("1.2-xa")).toBe(true);
    expect(re.test("1.2-x")).toBe(false);
    // `.` and `-` are literals, not "any character" or a range.
    expect(re.test("1a2-x")).toBe(true);
    expect(re.test("1.2.x")).toBe(true);
  });

  it("uses no group syntax with `?`, no `:` (acr purge splits `<repo>:<regex>` there) and no `$`", () => {
    for (const tag of TAGS) {
      const regex = regexExcept(tag);
      expect(regex).not.toContain("(?");
      expect(regex).not.toContain(":");
      expect(regex).not.toContain("$");
      expect(regex).toMatch(/^\^\(.*\)\\z$/);
    }
  });

  it("refuses a tag that is not a content tag", () => {
    for (const t of ["", "latest", "A1", "1_2"]) expect(() => regexExcept(t), t).toThrow(/needs a content tag/);
  });
});

describe("purgeCommand", () => {
  it("keeps the newest N tags and purges untagged manifests of any age, in one repository", () => {
    const command = purgeCommand("hydrology/dask", IN_USE, 7);
    expect(command.startsWith("acr purge ")).toBe(true);
    expect(command).toMatch(/ --keep 7( |$)/);
    expect(command).toMatch(/ --untagged( |$)/);
    expect(command).toMatch(/ --ago 0d( |$)/);
    const filter = filterOf(command);
    expect(filter.split(":")).toEqual(["hydrology/dask", regexExcept(IN_USE)]);
    expect(jsRegex(filter.slice(filter.indexOf(":") + 1)).test(IN_USE)).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses keepTags %s", (keep) => {
    expect(() => purgeCommand("hydrology/dask", IN_USE, keep)).toThrow(/keepTags must be a whole number of at least 1/);
  });

  it("accepts keepTags 1", () => {
    expect(purgeCommand("hydrology/dask", IN_USE, 1)).toMatch(/ --keep 1( |$)/);
  });
});

describe("purgeTaskYaml", () => {
  it("writes no $ (ACR task YAML reads it as an alias) and quotes the command", () => {
    const yaml = purgeTaskYaml(purgeCommand("hydrology/dask", IN_USE, 3));
    expect(yaml).not.toContain("$");
    expect(yaml).toMatch(/ {2}- cmd: "acr purge /);
    expect(() => purgeTaskYaml("acr purge --filter 'r:x$'")).toThrow(/may not contain \$/);
  });

  it("parses to one cmd step that gives back the command byte for byte", () => {
    for (const tag of [IN_USE, "1", "1.2-x", "9..--"]) {
      const command = purgeCommand("hydrology/dask", tag, 10);
      expect(command).toMatch(/[|[^$*\\]/);
      const doc = parseYaml(purgeTaskYaml(command, 1200));
      expect(doc).toEqual({ version: "v1.1.0", steps: [{ cmd: command, disableWorkingDirectoryOverride: true, timeout: 1200 }] });
    }
  });

  it("defaults the step timeout to an hour", () => {
    expect(parseYaml(purgeTaskYaml("acr purge --help")).steps[0].timeout).toBe(3600);
  });
});

describe("RegistryRetention", () => {
  const base: RegistryRetentionArgs = {
    registryName: "dcshydrodev",
    resourceGroupName: "rg-dcs",
    location: "westeurope",
    repository: "hydrology/dask",
    inUseTag: pulumi.output(IN_USE),
  };

  function declare(args: Partial<RegistryRetentionArgs> = {}) {
    return () => {
      const retention = new RegistryRetention("retention", { ...base, ...args });
      return { command: retention.command };
    };
  }

  /**
   * The task YAML the recorded task carries, parsed. The recording engine
   * shows `encodedTaskContent` decoded, as "base64 of: <yaml>"; a raw base64
   * value (an engine without that view) is decoded here.
   */
  function taskDocument(task: ReturnType<typeof one>): { version: string; steps: { cmd: string }[] } {
    const encoded = input(task, "step.encodedTaskContent");
    if (typeof encoded !== "string") throw new Error(`encodedTaskContent is not a string: ${JSON.stringify(encoded)}`);
    const DECODED = "base64 of: ";
    if (encoded.startsWith(DECODED)) return parseYaml(encoded.slice(DECODED.length));
    expect(encoded).toMatch(/^[A-Za-z0-9+/]+=*$/);
    return parseYaml(Buffer.from(encoded, "base64").toString("utf8"));
  }

  it("declares one scheduled Linux/amd64 ACR task whose encoded step purges every tag but the one in use", async () => {
    const r = await recordResources(declare({ schedule: "30 2 * * 0", keepTags: 5, tags: { environment: "dev" } }));
    const task = one(r, TASK);
    expect(task.inputs).toMatchObject({ registryName: "dcshydrodev", resourceGroupName: "rg-dcs", location: "westeurope", status: "Enabled", tags: { environment: "dev" } });
    expect(input(task, "platform")).toEqual({ os: "Linux", architecture: "amd64" });
    expect(input(task, "trigger.timerTriggers")).toEqual([{ name: "purge-schedule", schedule: "30 2 * * 0", status: "Enabled" }]);
    expect(input(task, "step.type")).toBe("EncodedTask");

    const doc = taskDocument(task);
    expect(doc.version).toBe("v1.1.0");
    expect(doc.steps).toHaveLength(1);
    const { cmd } = doc.steps[0];
    expect(cmd).toBe(r.outputs.command);
    expect(cmd).toBe(purgeCommand("hydrology/dask", IN_USE, 5));
    const filter = filterOf(cmd);
    expect(filter.slice(0, filter.indexOf(":"))).toBe("hydrology/dask");
    const re = jsRegex(filter.slice(filter.indexOf(":") + 1));
    expect(re.test(IN_USE)).toBe(false);
    for (const other of ["16.4-lts-000000000000", "15.4-lts-5c05959dbb65"]) expect(re.test(other), other).toBe(true);
    expect(re.test("latest")).toBe(false); // only content tags are ever purged
    expect(task.parent).toMatch(/dcs:index:RegistryRetention::retention$/);
  });

  it("runs daily at 03:00 and keeps 10 tags by default", async () => {
    const task = one(await recordResources(declare()), TASK);
    expect(input(task, "trigger.timerTriggers.0.schedule")).toBe("0 3 * * *");
    expect(taskDocument(task).steps[0].cmd).toMatch(/ --keep 10( |$)/);
  });

  it("follows the in-use tag it is given", async () => {
    const task = one(await recordResources(declare({ inUseTag: pulumi.output("15.4-lts-000000000000") })), TASK);
    const re = jsRegex(filterOf(taskDocument(task).steps[0].cmd).split(":")[1]);
    expect(re.test("15.4-lts-000000000000")).toBe(false);
    expect(re.test(IN_USE)).toBe(true);
  });

  it("rejects a bad keepTags in the constructor, before declaring anything, even the component", async () => {
    let thrown: unknown;
    const r = await recordResources(() => {
      try {
        new RegistryRetention("retention", { ...base, keepTags: 0 });
      } catch (e) {
        thrown = e;
      }
      return {};
    });
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(/keepTags must be a whole number of at least 1, got 0/);
    expect(r.resources.filter((x) => x.type === TASK || x.type === "dcs:index:RegistryRetention")).toEqual([]);
  });

  it("fails the program on a bad keepTags", async () => {
    const err = await recordResources(declare({ keepTags: 1.5 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).message).toMatch(/keepTags must be a whole number of at least 1, got 1\.5/);
    expect((err as RenderError).recorded.filter((x) => x.custom)).toHaveLength(0);
  });
});
