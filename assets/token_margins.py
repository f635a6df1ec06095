#!/usr/bin/env python3
"""How sure the model is of each token it writes greedily for infill's prompt: the lead of the
chosen token over the runner-up, in log-probability. A real-model test should only check text
whose tokens lead clearly (a near-tie can flip on another CPU). Needs a llama-server with the
same model (`bash assets/build-llama-server.sh`, then serve as in the README, "Measuring").

    infill complete --json --print-prompt FILE:LINE:COL \
        | python3 assets/token_margins.py --url http://127.0.0.1:8012 --tokens 40
"""
import argparse
import json
import sys
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8012", help="llama-server address")
    parser.add_argument("--tokens", type=int, default=32, help="tokens to generate")
    args = parser.parse_args()
    prompt = json.load(sys.stdin)["prompt"]
    body = {"prompt": prompt, "n_predict": args.tokens, "temperature": 0, "n_probs": 2,
            "cache_prompt": False}
    request = urllib.request.Request(f"{args.url}/completion", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        steps = json.load(response)["completion_probabilities"]
    leads = []
    for step in steps:
        first, second = step["top_logprobs"][:2]
        lead = first["logprob"] - second["logprob"]
        leads.append(lead)
        print(f"{lead:6.2f}  {first['token']!r:20} over {second['token']!r}")
    if leads:
        print(f"smallest lead {min(leads):.2f} over {len(leads)} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
