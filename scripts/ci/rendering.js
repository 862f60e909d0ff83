#!/usr/bin/env node
// Reads an offline rendering (`npm start -- --stack STACK --out FILE`) for the
// pipeline scripts in scripts/ci, so that they use exactly what the program
// declares instead of repeating it.
//
//   node scripts/ci/rendering.js registry-targets FILE
//     The URNs `pulumi up --target` needs to create the stack's registry and
//     nothing else: the registry, and everything it transitively depends on
//     (dependencies and parents: the resource group, the ContainerRegistry
//     component), one per line, each after what it depends on. The engine
//     refuses a targeted resource whose dependency or parent would be created
//     but is not targeted (pulumi/pulumi pkg/resource/deploy/step_generator.go:
//     validateSteps over State.GetAllDependencies, which includes the parent),
//     and targets the root stack and providers by itself, so those two are left
//     out. The rendering's URNs are the ones the engine forms (the recording
//     engine builds them the engine's way: every parent's type below the root
//     stack, then the resource's), so they are passed on as they are.
//     Exit 3 when the rendering declares no registry.
//
//   node scripts/ci/rendering.js images FILE
//     Every image the stack builds (each docker:index/image:Image resource), the
//     default image first, then the others by name; for each one record of
//     NUL-terminated fields:
//       name        its name in dcs:image/dcs:images (`default` for dcs:image),
//                   the key of the stack output `images` whose repository it is
//       resource    the resource's name (image-image, image-gpu-image, ...)
//       repository  its repository in the registry
//       tag         its content tag
//       ref         inputs.imageName as rendered (<loginServer>/<repository>:<tag>;
//                   the login server is only known to the cloud: for reading only)
//       context, dockerfile, platform   of its build
//       cacheFrom   build.cacheFrom.images, space-separated (empty: no cache)
//       N           how many build arguments follow
//       N fields    KEY=VALUE, one per build argument, in key order
//     Exit 3 when the rendering declares no image; exit 1 when a build value is
//     only known to the cloud or is a secret (it could not be reproduced outside
//     `pulumi up`). scripts/ci/lib.sh's load_images reads it into arrays.
//
//   node scripts/ci/rendering.js image-build FILE [NAME]
//     One image's build as the program declares it, NUL-separated: context,
//     Dockerfile, platform, then one KEY=VALUE per build argument in key order.
//     NAME (as `images` names it) is needed when the stack builds more than one
//     image. Exit 3 when the rendering declares no image (or none named NAME);
//     exit 1 as for `images`.
"use strict";

const fs = require("node:fs");

const REGISTRY = "azure-native:containerregistry:Registry";
const IMAGE = "docker:index/image:Image";
const ROOT_STACK = "pulumi:pulumi:Stack";

function fail(status, message) {
  process.stderr.write(`rendering.js: ${message}\n`);
  process.exit(status);
}

function load(file) {
  try {
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    if (!Array.isArray(doc.resources)) throw new Error("no resources[]");
    return doc;
  } catch (e) {
    return fail(1, `cannot read the rendering ${file}: ${e.message}`);
  }
}

function registryTargets(doc) {
  const byUrn = new Map(doc.resources.map((r) => [r.urn, r]));
  const registries = doc.resources.filter((r) => r.type === REGISTRY);
  if (registries.length === 0) fail(3, "the rendering declares no registry");
  const implicit = (r) => r.type === ROOT_STACK || r.type.startsWith("pulumi:providers:");
  const ordered = [];
  const seen = new Set();
  const visit = (urn, from) => {
    if (seen.has(urn)) return;
    const r = byUrn.get(urn);
    if (!r) fail(1, `${from} depends on ${urn}, which is not in the rendering`);
    seen.add(urn);
    if (implicit(r)) return;
    if (r.parent) visit(r.parent, urn);
    for (const dep of r.dependencies ?? []) visit(dep, urn);
    ordered.push(r);
  };
  for (const r of registries) visit(r.urn, "the stack");
  return ordered.map((r) => r.urn);
}

/** The name of an image: the key of the rendering's `images` output holding its repository. */
function nameOf(doc, resource, repository) {
  const outputs = (doc.outputs ?? {}).images;
  if (outputs !== null && typeof outputs === "object") {
    const names = Object.keys(outputs).filter((n) => (outputs[n] ?? {}).repository === repository);
    if (names.length === 1) return names[0];
  }
  // A rendering without that output: the program's resource names, image-image for the
  // default image and image-<name>-image for the others.
  const m = /^image(?:-(.+))?-image$/.exec(resource.name ?? "");
  if (m) return m[1] ?? "default";
  return fail(1, `cannot tell which image ${resource.name} is (no images output names repository ${repository})`);
}

function checked(what, name, value) {
  if (typeof value !== "string" || value === "") fail(1, `${name} of image ${what} is not set in the rendering`);
  if (value.startsWith("(computed") || value === "[secret]") fail(1, `${name} of image ${what} is ${value}: it cannot be reproduced outside pulumi up`);
  if (value.includes("\0")) fail(1, `${name} of image ${what} contains a NUL character`);
  return value;
}

function images(doc) {
  const resources = doc.resources.filter((r) => r.type === IMAGE);
  if (resources.length === 0) fail(3, "the rendering declares no image");
  const all = resources.map((r) => {
    const inputs = r.inputs ?? {};
    const build = inputs.build ?? {};
    const ref = typeof inputs.imageName === "string" ? inputs.imageName : "";
    // <server>/<repository>:<tag>; the server may be "(computed: ...)", which holds no '/'.
    const m = /^[^/]+\/([^:@]+):([^:@/]+)$/.exec(ref);
    if (!m) fail(1, `imageName of ${r.name} is not <server>/<repository>:<tag>: ${ref}`);
    const [, repository, tag] = m;
    const name = nameOf(doc, r, repository);
    const fields = {
      "build.context": build.context,
      "build.dockerfile": build.dockerfile,
      "build.platform": build.platform,
      ...Object.fromEntries(Object.keys(build.args ?? {}).map((k) => [`build.args.${k}`, build.args[k]])),
    };
    for (const [field, value] of Object.entries(fields)) checked(name, field, value);
    const cacheFrom = ((build.cacheFrom ?? {}).images ?? []).map((c) => checked(name, "build.cacheFrom.images", c));
    const args = Object.keys(build.args ?? {})
      .sort()
      .map((k) => `${k}=${build.args[k]}`);
    return { name, resource: r.name, repository, tag, ref, context: build.context, dockerfile: build.dockerfile, platform: build.platform, cacheFrom, args };
  });
  const names = all.map((i) => i.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) fail(1, `the rendering declares image ${twice} twice`);
  return all.sort((a, b) => (a.name === "default" ? -1 : b.name === "default" ? 1 : a.name < b.name ? -1 : 1));
}

function imagesRecords(doc) {
  return images(doc).flatMap((i) => [i.name, i.resource, i.repository, i.tag, i.ref, i.context, i.dockerfile, i.platform, i.cacheFrom.join(" "), String(i.args.length), ...i.args]);
}

function imageBuild(doc, name) {
  const all = images(doc);
  let image = all[0];
  if (name !== undefined) {
    image = all.find((i) => i.name === name);
    if (!image) fail(3, `the rendering declares no image ${name} (it has ${all.map((i) => i.name).join(", ")})`);
  } else if (all.length > 1) {
    fail(1, `the rendering declares ${all.length} images (${all.map((i) => i.name).join(", ")}); name one, or list them all with: rendering.js images FILE`);
  }
  return [image.context, image.dockerfile, image.platform, ...image.args];
}

const [command, file, name, ...rest] = process.argv.slice(2);
const usage = "usage: node scripts/ci/rendering.js registry-targets|images FILE, or image-build FILE [NAME]";
if (!file || !["registry-targets", "images", "image-build"].includes(command) || rest.length > 0 || (name !== undefined && command !== "image-build")) fail(2, usage);
const doc = load(file);
if (command === "registry-targets") process.stdout.write(registryTargets(doc).map((u) => `${u}\n`).join(""));
else if (command === "images") process.stdout.write(imagesRecords(doc).map((f) => `${f}\0`).join(""));
else process.stdout.write(imageBuild(doc, name).map((f) => `${f}\0`).join(""));
