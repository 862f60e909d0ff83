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
//   node scripts/ci/rendering.js image-build FILE
//     The cluster image's build as the program declares it, NUL-separated:
//     context, Dockerfile, platform, then one KEY=VALUE per build argument in
//     key order. Exit 3 when the rendering declares no image; exit 1 when a
//     value is only known to the cloud or is a secret (it could not be
//     reproduced outside `pulumi up`).
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

function imageBuild(doc) {
  const images = doc.resources.filter((r) => r.type === IMAGE);
  if (images.length === 0) fail(3, "the rendering declares no image");
  if (images.length > 1) fail(1, `the rendering declares ${images.length} images; expected one`);
  const build = (images[0].inputs ?? {}).build ?? {};
  const fields = [
    ["build.context", build.context],
    ["build.dockerfile", build.dockerfile],
    ["build.platform", build.platform],
    ...Object.keys(build.args ?? {})
      .sort()
      .map((k) => [`build.args.${k}`, build.args[k]]),
  ];
  for (const [name, value] of fields) {
    if (typeof value !== "string" || value === "") fail(1, `${name} of the image is not set in the rendering`);
    if (value.startsWith("(computed") || value === "[secret]") fail(1, `${name} of the image is ${value}: it cannot be reproduced outside pulumi up`);
    if (value.includes("\0")) fail(1, `${name} of the image contains a NUL character`);
  }
  const args = Object.keys(build.args ?? {})
    .sort()
    .map((k) => `${k}=${build.args[k]}`);
  return [build.context, build.dockerfile, build.platform, ...args];
}

const [command, file] = process.argv.slice(2);
if (!file || !["registry-targets", "image-build"].includes(command)) fail(2, "usage: node scripts/ci/rendering.js registry-targets|image-build FILE");
const doc = load(file);
if (command === "registry-targets") process.stdout.write(registryTargets(doc).map((u) => `${u}\n`).join(""));
else process.stdout.write(imageBuild(doc).map((f) => `${f}\0`).join(""));
