#!/usr/bin/env python3
"""Runs the Google Benchmark micro-benchmarks (build/bench/veer_micro_bench) and writes
their table into bench/RESULTS.md (its "micro" section), next to the end-to-end one.

Usage: bench/micro.py [--bench build/bench/veer_micro_bench] [--out bench/RESULTS.md]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e import replace_section  # noqa: E402


def main():
    out = subprocess.run([args.bench, "--benchmark_format=json", "--benchmark_min_time=0.5"],
                         capture_output=True, text=True, check=True).stdout
    runs = json.loads(out)["benchmarks"]
    lines = ["| benchmark | CPU time per operation |", "| --- | ---: |"]
    for run in runs:
        lines.append(f"| `{run['name']}` | {run['cpu_time']:.3g} {run['time_unit']} |")
    command = " ".join(["bench/micro.py"] + sys.argv[1:])
    section = f"""## Micro-benchmarks

Reproduce: `{command}` (Release build). {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs.
CPU time per operation; `threads:2` rows are two threads picking at once, each with its
own strategy object (as workers do) over shared per-backend stats.

{chr(10).join(lines)}
"""
    replace_section(args.out, "micro", section)
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(os.path.dirname(HERE), "build", "bench", "veer_micro_bench"))
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args()
    main()
