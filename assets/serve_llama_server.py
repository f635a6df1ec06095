#!/usr/bin/env python3
"""A real llama-server for the baselines of `infill eval` and `infill bench`, from PyPI's
prebuilt `xllamacpp` (starts in seconds; `assets/build-llama-server.sh` builds the pinned one
from source instead, ~20 min). Serves /infill, /completion, /tokenize and /health until killed.

    pip install xllamacpp
    python3 assets/serve_llama_server.py MODEL.gguf --port 8012 --threads 2 --ctx 4096 &

The batch is the context less room for the answer: llama-server's /infill keeps at most 3/4 of
the batch for the prefix and 1/4 for the suffix (a batch as large as the context overflows it
by the FIM tokens), so a large context lets the raw baseline see the whole file.
"""
import argparse
import signal
import threading

import xllamacpp


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--port", type=int, default=8012)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    # llama-server's --cache-reuse: reuse cached chunks of at least this many tokens by shifting
    # them (llama.vim's README recommends 256); 0, the server's default, reuses only a common
    # start.
    parser.add_argument("--cache-reuse", type=int, default=0)
    args = parser.parse_args()
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.port = args.port
    params.n_ctx = args.ctx
    # Room for the FIM tokens and up to 240 generated tokens.
    params.n_batch = max(args.ctx - 256, 256)
    params.n_ubatch = min(params.n_batch, 512)
    params.n_parallel = 1
    params.cache_prompt = True
    params.n_cache_reuse = args.cache_reuse
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.warmup = False
    server = xllamacpp.Server(params)
    print(f"llama-server (xllamacpp) on {server.listening_address}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main()
