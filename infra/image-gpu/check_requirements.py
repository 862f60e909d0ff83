"""Checks, inside the cluster image, the Python environment against its pins.

For every pinned requirement: the distribution is installed at exactly that
version, and its package imports. Also: pyspark is not installed (the Databricks
runtime injects its own). Runs with the interpreter under test, e.g.

    /databricks/python3/bin/python -B check_requirements.py requirements.txt
    docker run -i --entrypoint /databricks/python3/bin/python IMAGE - dask==2024.2.1 ...

Arguments are requirements files or `name==version` pins. Prints one line per
check ("ok" or "FAIL"); exits 1 if any check fails, 2 on bad arguments.
Needs Python 3.9 or later and nothing outside the standard library.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys

# Distributions whose import name differs from the distribution name in a way
# the installed files do not settle (keys are normalized distribution names).
IMPORT_NAMES = {
    "beautifulsoup4": "bs4",
    "gdal": "osgeo",
    "netcdf4": "netCDF4",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "pillow": "PIL",
    "python-dateutil": "dateutil",
    "pyyaml": "yaml",
    "scikit-image": "skimage",
    "scikit-learn": "sklearn",
    "tables": "tables",
}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)$")


def normalize(name):
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins_from(arguments):
    """(name, version) pairs from requirements files and name==version arguments."""
    pins = []
    for argument in arguments:
        if "==" not in argument and os.path.isfile(argument):
            with open(argument, encoding="utf-8") as handle:
                lines = [line.split("#", 1)[0].strip() for line in handle]
        else:
            lines = [argument.strip()]
        for line in filter(None, lines):
            match = PIN.match(line)
            if not match:
                raise ValueError(f"not an exact pin (name==version): {line!r}")
            pins.append((match.group(1), match.group(2)))
    return pins


def import_name(distribution):
    """The module to import for a distribution: the table, else its installed top-level packages."""
    key = normalize(distribution)
    if key in IMPORT_NAMES:
        return IMPORT_NAMES[key]
    modules = set()
    if hasattr(importlib.metadata, "packages_distributions"):  # Python 3.10+
        for module, owners in importlib.metadata.packages_distributions().items():
            if key in {normalize(o) for o in owners}:
                modules.add(module)
    public = sorted(m for m in modules if not m.startswith("_"))
    guess = key.replace("-", "_")
    if guess in public or not public:
        return guess
    return public[0]


def same_version(installed, pinned):
    try:
        from packaging.version import Version

        return Version(installed) == Version(pinned)
    except ImportError:
        return installed == pinned


def main(arguments):
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        pins = pins_from(arguments)
    except (OSError, ValueError) as error:
        print(f"check_requirements: {error}", file=sys.stderr)
        return 2
    failures = 0

    def report(ok, message):
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'}  {message}", flush=True)

    print(f"python {sys.version.split()[0]} at {sys.executable}")
    for name, pinned in pins:
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            report(False, f"{name}=={pinned}: not installed")
            continue
        if not same_version(installed, pinned):
            report(False, f"{name}=={pinned}: version {installed} is installed")
            continue
        module = import_name(name)
        try:
            importlib.import_module(module)
            report(True, f"{name}=={pinned} imports as {module}")
        except Exception as error:  # any import failure is the finding
            report(False, f"{name}=={pinned}: import {module} fails: {type(error).__name__}: {error}")
    report(importlib.util.find_spec("pyspark") is None, "pyspark is not installed (the runtime injects it)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
