#!/usr/bin/env python3
"""Greedy suggestions of a GPU build with every layer offloaded equal the same build's on the CPU.

Usage: .ci/gpu-compare.py INFILL_GPU_BINARY [--cpu-build INFILL_CPU_BINARY] [--model REAL.gguf]

For each fixed prompt (assets/examples/fib.py:4:12 and the cases of tests/lsp_real_cases.rs) and
each model (the tiny StarCoder2 test model, the real Qwen2.5-Coder-0.5B), runs
`infill complete --json` twice with the GPU build: with the default `gpuLayers` (all layers on
the GPU when the backend finds a device) and with `{"gpuLayers": 0}` (the CPU), and once more
with a CPU-only build when one is given. Fails when the GPU run's placement is not
"<device>: <description>, N/N layers", when a CPU run's is not "CPU, …", or when a suggestion
differs from the GPU run's. Prints load time and prompt/generation speed of each run; one process
at a time (never two models at once), so that the timings compare.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (file, text with ‸ at the cursor): the cases of tests/lsp_real_cases.rs, each in its own folder
# (no repository context: the comparison is about the engine, not the prompt).
CASES = [
    ("fib.py", None),  # assets/examples/fib.py:4:12, README's example
    (
        "rect.py",
        "class Rectangle:\n    def __init__(self, width, height):\n        self.width = width\n"
        "        self.height = height\n\n    def area(self):\n        ‸\n",
    ),
    (
        "counter.ts",
        "export class Counter {\n  private count = 0;\n\n  increment(): void {\n"
        "    this.count += 1;\n  }\n\n  decrement(): void {\n    ‸\n  }\n}\n",
    ),
    (
        "stack.go",
        "package stack\n\ntype Stack struct {\n\titems []int\n}\n\nfunc (s *Stack) Push(v int) {\n"
        "\ts.items = append(s.items, v)\n}\n\nfunc (s *Stack) Len() int {\n\t‸\n}\n",
    ),
    (
        "primes.py",
        'def count_up_to(n):\n    """The primes below n."""\n    primes = []\n'
        "    for i in range(2, n):\n        if all(i % p for p in primes):\n            ‸\n",
    ),
]


def place(root, name, text):
    """Writes a case into its own folder; returns its FILE:LINE:COL."""
    folder = os.path.join(root, os.path.splitext(name)[0])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if text is None:
        shutil.copy(os.path.join(REPO, "assets/examples", name), path)
        return f"{path}:4:12"
    before, after = text.split("‸")
    with open(path, "w") as f:
        f.write(before + after)
    line = before.count("\n") + 1
    col = len(before.rsplit("\n", 1)[-1]) + 1
    return f"{path}:{line}:{col}"


def complete(binary, model, location, options):
    options = dict(options, minConfidence=0)
    command = [binary, "complete", "--json", "--no-repo-context", "--model", model,
               "--options", json.dumps(options), location]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise SystemExit(f"failed ({run.returncode}): {' '.join(command)}\n{run.stderr}")
    return json.loads(run.stdout)


def rate(tokens, ms):
    return f"{tokens / ms * 1000:7.1f}" if ms else "      -"


def main():
    parser = argparse.ArgumentParser(
        usage="%(prog)s INFILL_GPU_BINARY [--cpu-build INFILL_CPU_BINARY] [--model REAL.gguf]")
    parser.add_argument("binary")
    parser.add_argument("--cpu-build")
    parser.add_argument("--model", default=os.path.expanduser(
        "~/.cache/infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"))
    args = parser.parse_args()
    runs_of = [("gpu", args.binary, {}), ("cpu", args.binary, {"gpuLayers": 0})]
    if args.cpu_build:
        runs_of.append(("cpu-build", args.cpu_build, {}))
    models = [("tiny", os.path.join(REPO, "assets/tiny-starcoder2.gguf")), ("qwen", args.model)]
    gpu_placement = re.compile(r"^\S+: .+, (\d+)/(\d+) layers$")
    failures = []
    root = tempfile.mkdtemp(prefix="infill-gpu-compare-")
    try:
        print(f"{'model':5} {'case':11} {'run':9} {'load ms':>8} {'prompt t/s':>10} "
              f"{'gen t/s':>8}  placement")
        for label, model in models:
            for name, text in CASES:
                location = place(root, name, text)
                runs = {}
                for run, binary, options in runs_of:
                    report = complete(os.path.abspath(binary), model, location, options)
                    runs[run] = report
                    print(f"{label:5} {name:11} {run:9} {report['loadMs']:8} "
                          f"{rate(report['evaluatedTokens'], report['promptMs']):>10} "
                          f"{rate(report['generatedTokens'], report['generationMs']):>8}  "
                          f"{report['placement']}")
                gpu = runs["gpu"]
                matched = gpu_placement.match(gpu["placement"])
                if not matched or matched.group(1) != matched.group(2):
                    failures.append(f"{label} {name}: GPU placement {gpu['placement']!r}")
                differ = []
                for run, report in runs.items():
                    if run != "gpu" and not report["placement"].startswith("CPU"):
                        failures.append(f"{label} {name}: {run} placement {report['placement']!r}")
                    if report["suggestion"] != gpu["suggestion"]:
                        differ.append(f"{run} {report['suggestion']!r}")
                        failures.append(f"{label} {name}: gpu {gpu['suggestion']!r} != "
                                        f"{run} {report['suggestion']!r}")
                print(f"{'':17} {'DIFFERENT' if differ else 'same'}: gpu {gpu['suggestion']!r}"
                      + "".join(f", {d}" for d in differ))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("gpu-compare: FAILED\n  " + "\n  ".join(failures))
        return 1
    print(f"gpu-compare: {len(models) * len(CASES)} prompts, {len(runs_of)} runs each, "
          "the same suggestions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
