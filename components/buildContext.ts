/**
 * The build context as Docker receives it, and a content hash of exactly that.
 *
 * The image tag is this hash, so it must move when, and only when, what Docker
 * builds from moves. Rules followed (Docker's build-context docs; the Docker
 * provider's `hashContext` in pulumi-docker provider/provider.go, which uses
 * moby/patternmatcher the way the Docker CLI does):
 * - files of the context minus what `.dockerignore` excludes; the last matching
 *   pattern wins, `!` re-includes, a pattern also covers everything below a
 *   matching directory, matching is case-sensitive;
 * - the Dockerfile and `.dockerignore` always count: Docker sends them to the
 *   builder even when `.dockerignore` excludes them;
 * - a symbolic link counts as the path it resolves to (not the target's bytes)
 *   and a dangling link is an error, as in the provider;
 * - paths, the executable bit and bytes count; timestamps and owners do not.
 *   The provider hashes the whole permission string of each file, so a
 *   checkout made under another umask (664 on a desktop, 644 on a CI runner)
 *   would rebuild and re-push the same content, and move the digest clusters
 *   boot from. Files of the context must therefore be exactly 644 or 755, as
 *   Git checks them out under the usual umask 022; anything else is refused
 *   with the command that fixes it;
 * - `<Dockerfile>.dockerignore`, which the provider would read instead of
 *   `.dockerignore`, is refused: one ignore file, read one way.
 *
 * Patterns are matched with @balena/dockerignore (a port of Docker's matcher)
 * with case-sensitivity on. Where that port departs from Docker's current
 * matcher (regex characters `+ ( ) | { }` in a pattern, a pattern starting
 * with `**` not followed by `/`) the pattern is refused rather than read
 * differently from Docker.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import ignore from "@balena/dockerignore";

/** Patterns of a `.dockerignore` text, comments and blank lines dropped; throws on one read differently than Docker reads it. */
export function ignorePatterns(text: string, file = ".dockerignore"): string[] {
  const patterns: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith("#")) return;
    const pattern = line.trim();
    if (pattern === "") return;
    const body = pattern.replace(/^!\s*/, "");
    if (/[+(){}|]/.test(body) || /^\*\*(?!\/)/.test(body)) {
      throw new Error(`${file}:${i + 1}: pattern "${pattern}" uses regex characters (+ ( ) | { }) or a leading ** without /, which this project's context hash cannot read the way Docker does; rewrite it`);
    }
    patterns.push(pattern);
  });
  return patterns;
}

/** One entry of the context as Docker receives it. */
export interface ContextEntry {
  /** POSIX path relative to the context. */
  path: string;
  /** What is hashed: the file's bytes, or a link's resolved path. */
  kind: "file" | "symlink";
  /** Executable bit (files). */
  executable: boolean;
}

/** The permissions every file of a build context has (see above). */
export const CONTEXT_FILE_MODES: readonly number[] = [0o644, 0o755];

/** Every entry Docker receives from `dir`, sorted by path: after `.dockerignore`, with the Dockerfile and `.dockerignore` always in. */
export function contextEntries(dir: string, dockerfile = "Dockerfile"): ContextEntry[] {
  if (!fs.existsSync(dir)) throw new Error(`build context ${dir} does not exist`);
  if (fs.existsSync(path.join(dir, `${dockerfile}.dockerignore`))) {
    throw new Error(`build context ${dir}: ${dockerfile}.dockerignore would replace .dockerignore for the Docker provider but not for the image tag; keep the rules in .dockerignore only`);
  }
  const ignoreFile = path.join(dir, ".dockerignore");
  const ig = ignore({ ignorecase: false });
  if (fs.existsSync(ignoreFile)) ig.add(ignorePatterns(fs.readFileSync(ignoreFile, "utf8"), ignoreFile));
  const always = new Set([".dockerignore", dockerfile]);
  const out: ContextEntry[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(child); // a re-included file below an excluded folder still counts
        continue;
      }
      if (ig.ignores(child) && !always.has(child)) continue;
      if (entry.isSymbolicLink()) out.push({ path: child, kind: "symlink", executable: false });
      else if (entry.isFile()) {
        const mode = fs.statSync(path.join(dir, child)).mode & 0o777;
        if (!CONTEXT_FILE_MODES.includes(mode)) {
          throw new Error(
            `build context ${dir}: ${child} has permissions ${mode.toString(8)}; the Docker provider hashes permissions, so this checkout would rebuild the image and restart clusters. Run: chmod -R u=rwX,go=rX ${dir}`,
          );
        }
        out.push({ path: child, kind: "file", executable: (mode & 0o111) !== 0 });
      }
    }
  };
  walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * A SHA-256 over what Docker receives from the context (see contextEntries)
 * plus the build arguments that shape the image. `root` is what a link's
 * resolved path is taken relative to (the project root: the provider resolves
 * links from its working directory, the project).
 */
export function hashBuildContext(dir: string, buildArgs: Record<string, string> = {}, root = process.cwd()): string {
  const h = createHash("sha256");
  for (const entry of contextEntries(dir)) {
    const full = path.join(dir, entry.path);
    if (entry.kind === "symlink") {
      let target: string;
      try {
        target = fs.realpathSync(full);
      } catch {
        throw new Error(`build context ${dir}: symbolic link ${entry.path} points nowhere (the Docker provider refuses it too)`);
      }
      h.update(`link\0${entry.path}\0${path.relative(root, target).split(path.sep).join("/")}\0`);
      continue;
    }
    // The content enters as its own fixed-size digest: bytes of a file cannot pass for another entry.
    h.update(`file\0${entry.path}\0${entry.executable ? "x" : "-"}\0`);
    h.update(createHash("sha256").update(fs.readFileSync(full)).digest());
    h.update("\0");
  }
  for (const key of Object.keys(buildArgs).sort()) {
    // JSON-encoded, so a NUL in a value cannot pass for the start of another argument.
    h.update(`arg\0${JSON.stringify(key)}\0${JSON.stringify(buildArgs[key])}\0`);
  }
  return h.digest("hex");
}
