/**
 * The build context as Docker receives it, and its hash (the image tag): run
 * against real directories in temp folders, including a copy of infra/image.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { contextEntries, hashBuildContext, ignorePatterns } from "../components/buildContext";
import { ROOT } from "./helpers/record";

const IMAGE_DIR = path.join(ROOT, "infra", "image");

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A fresh temp directory, removed after the test. */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-ctx-"));
  dirs.push(dir);
  return dir;
}

/** Writes files (relative path -> content) under `dir`, creating folders. */
function write(dir: string, files: Record<string, string>): string {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

/** A temp build context holding `files`. */
function context(files: Record<string, string>): string {
  return write(tempDir(), files);
}

/** Paths Docker receives from `dir`. */
const paths = (dir: string) => contextEntries(dir).map((e) => e.path);

describe(".dockerignore, read as Docker reads it", () => {
  it("lets the last matching pattern win, in both directions", () => {
    const reincluded = context({ Dockerfile: "FROM x\n", ".dockerignore": "*.txt\n!keep.txt\n", "keep.txt": "k", "drop.txt": "d" });
    expect(paths(reincluded)).toEqual([".dockerignore", "Dockerfile", "keep.txt"]);
    const excludedAgain = context({ Dockerfile: "FROM x\n", ".dockerignore": "*.txt\n!keep.txt\nkeep.txt\n", "keep.txt": "k", "drop.txt": "d" });
    expect(paths(excludedAgain)).toEqual([".dockerignore", "Dockerfile"]);
  });

  it("excludes everything below a matching folder, and still lets a `!` re-include a file inside it", () => {
    const dir = context({
      Dockerfile: "FROM x\n",
      ".dockerignore": "build\n!build/deep/keep.txt\n",
      "build/a.txt": "a",
      "build/deep/b.txt": "b",
      "build/deep/keep.txt": "k",
      "buildx/c.txt": "c",
    });
    expect(paths(dir)).toEqual([".dockerignore", "Dockerfile", "build/deep/keep.txt", "buildx/c.txt"]);
  });

  it("matches case-sensitively", () => {
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "readme.md\n", "README.MD": "upper", "readme.md": "lower" });
    expect(paths(dir)).toEqual([".dockerignore", "Dockerfile", "README.MD"]);
  });

  it("drops comment lines and blank lines, and trims patterns", () => {
    expect(ignorePatterns("# a comment\n\n   \n  *.log  \r\n#another\n!keep.log\n")).toEqual(["*.log", "!keep.log"]);
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "# notes.txt\n\n   \n  *.log  \n", "notes.txt": "n", "x.log": "l" });
    expect(paths(dir)).toEqual([".dockerignore", "Dockerfile", "notes.txt"]);
  });

  it("always counts the Dockerfile and .dockerignore, even when `*` excludes them", () => {
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "*\n", "a.txt": "a", "sub/b.txt": "b" });
    expect(contextEntries(dir)).toEqual([
      { path: ".dockerignore", kind: "file", executable: false },
      { path: "Dockerfile", kind: "file", executable: false },
    ]);
    const before = hashBuildContext(dir);
    fs.writeFileSync(path.join(dir, "a.txt"), "changed");
    expect(hashBuildContext(dir)).toBe(before);
    fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM y\n");
    const afterDockerfile = hashBuildContext(dir);
    expect(afterDockerfile).not.toBe(before);
    fs.writeFileSync(path.join(dir, ".dockerignore"), "*\n# excluded, still sent\n");
    expect(hashBuildContext(dir)).not.toBe(afterDockerfile);
  });

  it("honours a leading `/` and a `**/` prefix", () => {
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "/abs\n**/x.js\n", abs: "a", "sub/abs": "b", "x.js": "1", "a/b/x.js": "2", "a/y.js": "3" });
    expect(paths(dir)).toEqual([".dockerignore", "Dockerfile", "a/y.js", "sub/abs"]);
  });

  it("refuses patterns the matcher would read differently from Docker, naming file and line", () => {
    for (const bad of ["c++", "a(1).txt", "x|y", "**.js", "!**.js", "!a{b,c}"]) {
      expect(() => ignorePatterns(`# ok\nfine.txt\n${bad}\n`, "ctx/.dockerignore"), bad).toThrow(`ctx/.dockerignore:3: pattern "${bad}"`);
    }
    expect(ignorePatterns("**/x.js\n!keep.txt\n/abs\n")).toEqual(["**/x.js", "!keep.txt", "/abs"]);
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "*.tmp\nc++\n" });
    expect(() => contextEntries(dir)).toThrow(`${path.join(dir, ".dockerignore")}:2: pattern "c++"`);
  });
});

describe("the hash of a copy of infra/image", () => {
  const ARGS = { RUNTIME_TAG: "16.4-LTS", BASE_IMAGE: "databricksruntime/standard:16.4-LTS", IMAGE_SOURCE: "" };

  /** infra/image copied to a fresh temp folder: its context folder and its root. */
  function copyOfImage(): { root: string; ctx: string } {
    const root = tempDir();
    const ctx = path.join(root, "infra", "image");
    fs.cpSync(IMAGE_DIR, ctx, { recursive: true });
    return { root, ctx };
  }
  const hash = ({ root, ctx }: { root: string; ctx: string }, args: Record<string, string> = ARGS) => hashBuildContext(ctx, args, root);
  const edit = (ctx: string, file: string) => fs.appendFileSync(path.join(ctx, file), "\n# edited\n");

  it("takes exactly what the Dockerfile uses, and .dockerignore", () => {
    expect(paths(copyOfImage().ctx)).toEqual([".dockerignore", "Dockerfile", "check_requirements.py", "dcs_dask.py", "requirements.txt"]);
  });

  it("is the same for the same content in two different folders (the checkout path does not count)", () => {
    const a = copyOfImage();
    const b = copyOfImage();
    expect(a.root).not.toBe(b.root);
    expect(hash(a)).toBe(hash(b));
    expect(hash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("stays put when smoke-test.sh changes or an editor drops a file", () => {
    const copy = copyOfImage();
    const before = hash(copy);
    edit(copy.ctx, "smoke-test.sh");
    expect(hash(copy)).toBe(before);
    write(copy.ctx, { ".Dockerfile.swp": "swap", "notes~": "backup", "sub/scratch.txt": "x" });
    expect(hash(copy)).toBe(before);
  });

  it.each(["requirements.txt", "Dockerfile", ".dockerignore", "check_requirements.py"])("moves when %s changes", (file) => {
    const copy = copyOfImage();
    const before = hash(copy);
    edit(copy.ctx, file);
    expect(hash(copy)).not.toBe(before);
  });

  it("moves when check_requirements.py becomes executable, and not when only its timestamp changes", () => {
    const copy = copyOfImage();
    const checker = path.join(copy.ctx, "check_requirements.py");
    fs.chmodSync(checker, 0o644);
    const before = hash(copy);
    fs.utimesSync(checker, new Date(2001, 0, 1), new Date(2001, 0, 1));
    expect(hash(copy)).toBe(before);
    fs.chmodSync(checker, 0o755);
    expect(hash(copy)).not.toBe(before);
  });

  it("moves when a build argument changes, is added, or is removed, whatever order the arguments come in", () => {
    const copy = copyOfImage();
    const before = hash(copy);
    const reordered = Object.fromEntries(Object.entries(ARGS).reverse());
    expect(hash(copy, reordered)).toBe(before);
    expect(hash(copy, { ...ARGS, RUNTIME_TAG: "15.4-LTS" })).not.toBe(before);
    expect(hash(copy, { ...ARGS, BASE_IMAGE: `databricksruntime/standard:16.4-LTS@sha256:${"a".repeat(64)}` })).not.toBe(before);
    expect(hash(copy, { ...ARGS, EXTRA: "" })).not.toBe(before);
    expect(hash(copy, Object.fromEntries(Object.entries(ARGS).filter(([k]) => k !== "IMAGE_SOURCE")))).not.toBe(before);
  });
});

describe("the hash of a small context", () => {
  // Moved from naming.test.ts, where hashBuildContext used to live.
  it("does not depend on the order files were created in", () => {
    const a = context({ Dockerfile: "FROM x\n", "req/requirements.txt": "dask==1\n" });
    const b = context({ "req/requirements.txt": "dask==1\n", Dockerfile: "FROM x\n" });
    expect(hashBuildContext(a, { RUNTIME_TAG: "16.4-LTS" })).toBe(hashBuildContext(b, { RUNTIME_TAG: "16.4-LTS" }));
  });

  it("lists entries sorted by their whole path, not folder by folder", () => {
    const dir = context({ "a/b": "", "a.txt": "", Dockerfile: "FROM x\n" });
    expect(paths(dir)).toEqual(["Dockerfile", "a.txt", "a/b"]);
  });

  it("moves when a file is renamed, moved to a folder, added or removed", () => {
    const dir = context({ Dockerfile: "FROM x\n", "requirements.txt": "dask==1\n" });
    const seen = new Set([hashBuildContext(dir)]);
    fs.renameSync(path.join(dir, "requirements.txt"), path.join(dir, "reqs.txt"));
    expect(paths(dir)).toEqual(["Dockerfile", "reqs.txt"]);
    seen.add(hashBuildContext(dir));
    write(dir, { "sub/reqs.txt": "dask==1\n" });
    fs.rmSync(path.join(dir, "reqs.txt"));
    seen.add(hashBuildContext(dir));
    write(dir, { "extra.txt": "" });
    seen.add(hashBuildContext(dir));
    expect(seen.size).toBe(4);
  });

  it("cannot be forged by bytes that look like another file or argument", () => {
    // A file whose content spells out the framing of a further file must not hash like that file.
    const forged = context({ Dockerfile: "FROM x\n\0file\0z\0-\0Q" });
    const real = context({ Dockerfile: "FROM x\n", z: "Q" });
    expect(hashBuildContext(forged)).not.toBe(hashBuildContext(real));
    // Nor may one argument's value pass for two arguments.
    const dir = context({ Dockerfile: "FROM x\n" });
    expect(hashBuildContext(dir, { K: "v\0arg\0L\0w" })).not.toBe(hashBuildContext(dir, { K: "v", L: "w" }));
    // Nor file bytes for an argument.
    const withArgBytes = context({ Dockerfile: "FROM x\n\0arg\0K\0v" });
    expect(hashBuildContext(withArgBytes)).not.toBe(hashBuildContext(dir, { K: "v" }));
  });

  it("fails on a context that does not exist", () => {
    const missing = path.join(tempDir(), "nowhere");
    expect(() => hashBuildContext(missing)).toThrow(`build context ${missing} does not exist`);
  });
});

describe("symbolic links", () => {
  /** root/ctx with a Dockerfile and a link `shared.txt` -> root/data/<target>; data/a.txt and data/b.txt exist. */
  function linked(target: string): { root: string; ctx: string } {
    const root = tempDir();
    write(root, { "ctx/Dockerfile": "FROM x\n", "data/a.txt": "alpha", "data/b.txt": "beta" });
    const ctx = path.join(root, "ctx");
    fs.symlinkSync(path.join("..", "data", target), path.join(ctx, "shared.txt"));
    return { root, ctx };
  }

  it("count as the path they resolve to, not the target's bytes", () => {
    const { root, ctx } = linked("a.txt");
    expect(contextEntries(ctx)).toContainEqual({ path: "shared.txt", kind: "symlink", executable: false });
    const before = hashBuildContext(ctx, {}, root);
    fs.writeFileSync(path.join(root, "data", "a.txt"), "another content");
    expect(hashBuildContext(ctx, {}, root)).toBe(before);
    fs.rmSync(path.join(ctx, "shared.txt"));
    fs.symlinkSync(path.join("..", "data", "b.txt"), path.join(ctx, "shared.txt"));
    expect(hashBuildContext(ctx, {}, root)).not.toBe(before);
  });

  it("take the resolved path relative to the root, so two checkouts agree and another root does not", () => {
    const one = linked("a.txt");
    const two = linked("a.txt");
    expect(hashBuildContext(one.ctx, {}, one.root)).toBe(hashBuildContext(two.ctx, {}, two.root));
    expect(hashBuildContext(one.ctx, {}, path.join(one.root, "data"))).not.toBe(hashBuildContext(one.ctx, {}, one.root));
  });

  it("differ from a regular file with the same content", () => {
    const { root, ctx } = linked("a.txt");
    const withLink = hashBuildContext(ctx, {}, root);
    fs.rmSync(path.join(ctx, "shared.txt"));
    fs.writeFileSync(path.join(ctx, "shared.txt"), "alpha");
    expect(hashBuildContext(ctx, {}, root)).not.toBe(withLink);
  });

  it("fail, naming the link, when they point nowhere", () => {
    const { root, ctx } = linked("missing.txt");
    expect(() => hashBuildContext(ctx, {}, root)).toThrow(/symbolic link shared\.txt points nowhere/);
  });

  it("are left out like any file when .dockerignore excludes them, even dangling", () => {
    const { root, ctx } = linked("missing.txt");
    fs.writeFileSync(path.join(ctx, ".dockerignore"), "shared.txt\n");
    expect(paths(ctx)).toEqual([".dockerignore", "Dockerfile"]);
    expect(hashBuildContext(ctx, {}, root)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe(".gitattributes", () => {
  it("keeps every file under infra/ in LF on any checkout, so a Windows clone cannot move the tag", () => {
    const files = ["infra/image/Dockerfile", "infra/image/requirements.txt", "infra/image/.dockerignore", "infra/init-scripts/init_script_dask.sh"];
    const out = execFileSync("git", ["check-attr", "eol", "--", ...files], { cwd: ROOT, encoding: "utf8" });
    for (const f of files) expect(out).toContain(`${f}: eol: lf`);
  });
});

describe("what the Docker provider would hash differently", () => {
  it("refuses a file whose permissions another umask gave it, naming the fix, and ignores excluded files' permissions", () => {
    const dir = context({ Dockerfile: "FROM x\n", "requirements.txt": "dask\n", ".dockerignore": "*\n!Dockerfile\n!requirements.txt\n", "notes.txt": "x" });
    fs.chmodSync(path.join(dir, "notes.txt"), 0o666); // excluded: Docker never sees it
    expect(() => hashBuildContext(dir)).not.toThrow();
    fs.chmodSync(path.join(dir, "requirements.txt"), 0o664);
    expect(() => hashBuildContext(dir)).toThrow(/requirements\.txt has permissions 664.*chmod -R u=rwX,go=rX/);
    fs.chmodSync(path.join(dir, "requirements.txt"), 0o600);
    expect(() => hashBuildContext(dir)).toThrow(/has permissions 600/);
    fs.chmodSync(path.join(dir, "requirements.txt"), 0o755);
    expect(() => hashBuildContext(dir)).not.toThrow();
  });

  it("refuses a Dockerfile.dockerignore, which the provider would read instead of .dockerignore", () => {
    const dir = context({ Dockerfile: "FROM x\n", ".dockerignore": "*\n!Dockerfile\n", "Dockerfile.dockerignore": "\n" });
    expect(() => contextEntries(dir)).toThrow(/Dockerfile\.dockerignore would replace \.dockerignore/);
  });
});
