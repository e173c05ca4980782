"""Shared by the bench/*/run.sh scripts: where a measurement ran, and how
its table replaces the section between a pair of markers in
docs/benchmarks.md."""
import os
import platform
import subprocess


def first_line(cmd):
    """The first line a command prints about itself (e.g. --version)."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    return (p.stdout + p.stderr).strip().splitlines()[0]


def commit(paths):
    """The commit measured, and whether the tree differs from it under paths.
    VIPD_BENCH_COMMIT names it when the tree is an export."""
    if os.environ.get("VIPD_BENCH_COMMIT"):
        return os.environ["VIPD_BENCH_COMMIT"]
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if p.returncode != 0:
        return "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", *paths]).returncode != 0
    return p.stdout.strip() + (" with local changes" if dirty else "")


def machine():
    """CPU model, architecture and core count."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.machine())
    nproc = subprocess.check_output(["nproc"], text=True).strip()
    return f"{cpu} ({platform.machine()}, {nproc} cores), Linux {platform.release()}"


def replace_section(doc_path, name, table):
    """Puts table between <!-- NAME:BEGIN --> and <!-- NAME:END -->."""
    doc = open(doc_path).read()
    a, b = f"<!-- {name}:BEGIN -->", f"<!-- {name}:END -->"
    i, j = doc.index(a) + len(a), doc.index(b)
    open(doc_path, "w").write(doc[:i] + "\n" + table + "\n" + doc[j:])


def publish(doc_path, name, table, nodoc=None):
    """Puts table in section name of doc_path, unless the environment
    variable nodoc is "1" (a trial run that must not touch the docs), and
    prints it."""
    if not nodoc or os.environ.get(nodoc) != "1":
        replace_section(doc_path, name, table)
    print(table)
