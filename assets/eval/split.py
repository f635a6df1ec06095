#!/usr/bin/env python3
"""The fixed tune/check split of the dev set (issue 16): quality rules are chosen on the tune
half and reported on the check half, so a rule that only helps the tasks it was tuned on shows.

Tasks that share a file (repository tasks) or a problem (HumanEval) stay in one half, so the
check half holds code no rule was tuned on. Within each stratum (a repository; HumanEval) the
groups are ordered by a hash of their name and each goes to the half holding fewer of that
stratum's tasks so far, which balances repositories, languages and kinds. Deterministic: the same dev set always gives the same split.

    python3 assets/eval/split.py ../shared/eval/dev.jsonl   # writes assets/eval/{tune,check}.ids

`infill eval --ids assets/eval/check.ids` then runs one half; `--limit N` spreads N tasks evenly
over it for a smaller fixed subset.
"""
import collections
import hashlib
import json
import pathlib
import sys


def group_of(task):
    if task["repo"]:
        return task["repo"], f'{task["repo"]}/{task["path"]}'
    problem = task["id"].split("/")[1]
    return "humaneval", f"HumanEval/{problem}"


def main():
    dev = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval/dev.jsonl")
    tasks = [json.loads(line) for line in dev.read_text().splitlines() if line.strip()]
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for task in tasks:
        stratum, group = group_of(task)
        groups[stratum][group].append(task)
    halves = {"tune": [], "check": []}
    for stratum in sorted(groups):
        ordered = sorted(groups[stratum], key=lambda g: hashlib.sha256(g.encode()).hexdigest())
        size = {"tune": 0, "check": 0}
        for group in ordered:
            # The half with fewer of this stratum's tasks takes the group (ties: tune).
            half = "tune" if size["tune"] <= size["check"] else "check"
            halves[half].extend(groups[stratum][group])
            size[half] += len(groups[stratum][group])
    out = pathlib.Path(__file__).parent
    for name, half in halves.items():
        ids = sorted(t["id"] for t in half)
        (out / f"{name}.ids").write_text("".join(f"{i}\n" for i in ids))
        counts = collections.Counter((t["kind"], t["language"]) for t in half)
        print(name, len(half), dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
