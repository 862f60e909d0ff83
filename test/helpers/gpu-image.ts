/**
 * For test/gpu-image.test.ts: the GPU image's build context read as Docker
 * reads it (instructions, stages, ARG defaults, requirement pins), and the
 * published figures its defaults are checked against, each with its source.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./processes";

export const GPU_IMAGE_DIR = path.join(ROOT, "infra", "image-gpu");
export const CPU_IMAGE_DIR = path.join(ROOT, "infra", "image");

/** Logical Dockerfile instructions: comment lines dropped, continuation lines joined with one space. */
export function dockerInstructions(text: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue; // a comment line, also inside a continued instruction
    const continued = /\\\s*$/.test(line);
    current += (current ? " " : "") + line.replace(/\\\s*$/, "").trim();
    if (!continued) {
      if (current.trim()) out.push(current.replace(/\s+/g, " ").trim());
      current = "";
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** Instructions split into stages; the first element holds what precedes the first FROM. */
export function dockerStages(instructions: string[]): { globalArgs: string[]; stages: string[][] } {
  const first = instructions.findIndex((l) => /^FROM\s/i.test(l));
  const stages: string[][] = [];
  for (const line of instructions.slice(first)) {
    if (/^FROM\s/i.test(line)) stages.push([line]);
    else stages[stages.length - 1].push(line);
  }
  return { globalArgs: instructions.slice(0, first), stages };
}

/** `ARG NAME=default` lines as a map (an ARG without a default maps to undefined). */
export function argDefaults(lines: string[]): Map<string, string | undefined> {
  const map = new Map<string, string | undefined>();
  for (const line of lines) {
    const m = /^ARG (\w+)(?:=(.*))?$/.exec(line);
    if (m) map.set(m[1], m[2]?.replace(/^"(.*)"$/, "$1"));
  }
  return map;
}

/** Requirement lines of a requirements file: comments and blank lines dropped. */
export function requirementLines(file: string): string[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

/** PEP 503 normalized distribution name. */
export const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

/** name -> pinned version of `name==version` lines (other lines are not pins and are left out). */
export function pinsOf(lines: string[]): Map<string, string> {
  const pins = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$/.exec(line);
    if (m) pins.set(normalize(m[1]), m[2]);
  }
  return pins;
}

/** "12.6.3" -> "cu126", the PyTorch wheel index's name for a CUDA major.minor. */
export function cudaWheelTag(cudaVersion: string): string {
  const [major, minor] = cudaVersion.split(".");
  return `cu${major}${minor}`;
}

/**
 * Published figures. Each is data, with its source, so that a new default is
 * checked against the same tables instead of being taken on trust.
 */
export const GPU_FACTS = {
  /**
   * Minimum Linux driver of each CUDA toolkit release ("Toolkit Driver
   * Version"). Source: NVIDIA CUDA Toolkit Release Notes, table "CUDA Toolkit
   * and Corresponding Driver Versions",
   * https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html
   */
  toolkitDriver: {
    "12.1.1": "530.30.02",
    "12.2.2": "535.104.05",
    "12.4.1": "550.54.15",
    "12.5.1": "555.42.06",
    "12.6.3": "560.35.05",
    "12.8.1": "570.124.06",
  } as Record<string, string>,
  /**
   * Minor-version compatibility: an application built with any CUDA 12.x runs
   * on a driver from 525.60.13 up to, not including, the 580 branch (without
   * PTX JIT of newer PTX). Source: the same release notes, "Driver Range for
   * Minor Version Compatibility", and https://docs.nvidia.com/deploy/cuda-compatibility/
   */
  minorVersionCompatibility: { "12": { from: "525.60.13", below: "580" } } as Record<string, { from: string; below: string }>,
  /**
   * The one driver figure seen on a Databricks GPU node: `nvidia-smi` on a
   * DBR 14.2 ML node showed Driver Version 535.54.03 (CUDA Version 12.2),
   * rapidsai/deployment issue #299 (2024-02-01). No public source gives the
   * driver of DBR 16.4 GPU nodes; drivers only move forward.
   */
  databricksDriverSeen: "535.54.03",
  /**
   * nvidia/cuda runtime tags on Ubuntu 24.04 (NVIDIA's supported-tags list,
   * gitlab.com/nvidia/container-images/cuda doc/supported-tags.md): none
   * before 12.5.1.
   */
  ubuntu2404RuntimeTags: ["12.5.1", "12.6.3", "12.9.1"],
  /**
   * CUDA builds and Pythons of PyTorch releases. Source: pytorch/pytorch
   * RELEASE.md, "Release Compatibility Matrix".
   */
  torch: {
    "2.5": { python: ["3.9", "3.10", "3.11", "3.12"], cuda: ["cu118", "cu121", "cu124"] },
    "2.6": { python: ["3.9", "3.10", "3.11", "3.12", "3.13"], cuda: ["cu118", "cu124", "cu126"] },
    "2.7": { python: ["3.9", "3.10", "3.11", "3.12", "3.13"], cuda: ["cu118", "cu126", "cu128"] },
  } as Record<string, { python: string[]; cuda: string[] }>,
  /**
   * What rapids-dask-dependency X.Y pins (rapidsai/rapids-dask-dependency
   * pyproject.toml, branch-X.Y), which dask-cuda X.Y requires as
   * `rapids-dask-dependency==X.Y.*` (rapidsai/dask-cuda pyproject.toml at vX.Y.00),
   * and the Pythons dask-cuda X.Y declares.
   */
  rapids: {
    "24.12": { dask: "2024.11.2", daskExpr: "1.1.19", pynvmlBelow: "11.5", python: ["3.10", "3.11", "3.12"] },
  } as Record<string, { dask: string; daskExpr: string; pynvmlBelow: string; python: string[] }>,
  /**
   * Databricks runtime -> its Ubuntu, Python and JDK. databricks/containers,
   * branch release-16.4-LTS: ubuntu/minimal/Dockerfile (FROM ubuntu:24.04,
   * Zulu 17 selected with update-java-alternatives), ubuntu/python/Dockerfile
   * (python_version="3.12").
   */
  runtimes: { "16.4-LTS": { ubuntu: "24.04", python: "3.12", jdk: "17" } } as Record<string, { ubuntu: string; python: string; jdk: string }>,
};
