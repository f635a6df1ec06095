#!/usr/bin/env python3
"""Generate a tiny, random-weight StarCoder2-architecture GGUF model for tests.

No real StarCoder2 weights are reachable from the build/test machines, so the
tests of infill's StarCoder2 code path (FIM prompt format, special tokens,
tokenizer, greedy completion) run against this tiny stand-in instead.

Writes, into OUTDIR (default: the folder this script lives in):

  tiny-starcoder2.gguf            llama.cpp "starcoder2" model, f32, < 1 MB.
  tiny-starcoder2.tokenizer.json  Hugging Face `tokenizers` file with exactly
                                  the same vocabulary and merges (ByteLevel
                                  BPE, pre-tokenized like StarCoder2).

Vocabulary: ids 0-6 are StarCoder2's special tokens (<|endoftext|>,
<fim_prefix>, <fim_middle>, <fim_suffix>, <fim_pad>, <repo_name>, <file_sep>),
then the 256 GPT-2 byte-level tokens in bytes_to_unicode order, then the
results of a small deterministic BPE training on the code sample embedded
below (merges in rank order).

Weights are random (fixed seed) except for one construction that makes greedy
decoding deterministic and useful: output_norm.bias is a constant vector b,
the output.weight rows of special tokens and of tokens that do not decode to
printable ASCII / "\\n" / "\\t" point along -b (logit about -30 whatever the
input), and all other rows have a fixed +MARGIN component along b (a bit more
for tokens containing a newline) plus a random part orthogonal to it.  So
greedy decoding always emits normal, valid-UTF-8 text tokens (newlines now and
then) and never an end-of-generation token.

Deterministic: running it twice gives byte-identical files.
Usage: python3 make_tiny_starcoder2.py [OUTDIR]      (needs: pip install gguf numpy)
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import numpy as np
import gguf

# ---------------------------------------------------------------- hyper-params
NAME = "tiny-starcoder2"
N_CTX = 4096
N_EMBD = 64
N_LAYER = 2
N_FF = 128
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD  # 16
LN_EPS = 1e-5
ROPE_FREQ_BASE = 100000.0
N_MERGES = 400
SEED = 20240229
MARGIN = 2.0          # output logit offset of normal text tokens
NEWLINE_BOOST = 3.0   # extra offset for tokens containing "\n" (multi-line output)
BLOCKED = -30.0       # output logit of special / non-printable tokens

SPECIAL_TOKENS = [
    "<|endoftext|>",  # 0  bos = eos = pad
    "<fim_prefix>",   # 1
    "<fim_middle>",   # 2
    "<fim_suffix>",   # 3
    "<fim_pad>",      # 4
    "<repo_name>",    # 5
    "<file_sep>",     # 6
]
FIM_PRE_ID, FIM_MID_ID, FIM_SUF_ID, FIM_PAD_ID, FIM_REP_ID, FIM_SEP_ID = 1, 2, 3, 4, 5, 6

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3

# ------------------------------------------------------------ training sample
CORPUS = r'''
import os
import sys
from typing import List, Optional


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def factorial(n: int) -> int:
    """Return n! for a non-negative integer n."""
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()

    def __len__(self):
        return len(self.items)

    def is_empty(self) -> bool:
        return len(self.items) == 0


def read_lines(path: str) -> List[str]:
    with open(path, "r", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def find(items: List[int], target: int) -> Optional[int]:
    for index, value in enumerate(items):
        if value == target:
            return index
    return None


def main():
    args = sys.argv[1:]
    if len(args) == 0:
        print("usage: main.py FILE")
        return 1
    for name in args:
        if os.path.exists(name):
            print(name, len(read_lines(name)))
        else:
            print("missing:", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};

/// A simple key-value store.
#[derive(Debug, Default, Clone)]
pub struct Store {
    map: HashMap<String, String>,
}

impl Store {
    pub fn new() -> Self {
        Self { map: HashMap::new() }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        self.map.insert(key, value)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

fn read_file(path: &str) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut contents = String::new();
    file.read_to_string(&mut contents)?;
    Ok(contents)
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mut store = Store::new();
    for (i, arg) in args.iter().enumerate() {
        store.insert(format!("arg{}", i), arg.clone());
    }
    match store.get("arg1") {
        Some(value) => println!("first argument: {}", value),
        None => println!("no arguments"),
    }
    let text = read_file("Cargo.toml")?;
    println!("{} bytes", text.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fib() {
        assert_eq!(fib(10), 55);
    }

    #[test]
    fn test_store() {
        let mut store = Store::new();
        assert!(store.is_empty());
        store.insert("a".to_string(), "b".to_string());
        assert_eq!(store.len(), 1);
    }
}

function add(a, b) {
    return a + b;
}

const items = [1, 2, 3].map((x) => x * 2);
for (let i = 0; i < items.length; i++) {
    console.log(items[i]);
}

export default class Counter {
    constructor() {
        this.count = 0;
    }

    increment() {
        this.count += 1;
        return this.count;
    }
}
'''


# ------------------------------------------------------------ byte-level BPE
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode char mapping."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# Approximation (exact for ASCII) of the StarCoder pre-tokenizer: every digit
# alone, then GPT-2's regex. Only used to split the training sample into words.
_GPT2_RE = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def pre_tokenize(text: str) -> list[str]:
    words = []
    for chunk in re.split(r"(\d)", text):
        if chunk:
            words.extend(_GPT2_RE.findall(chunk))
    return words


def train_bpe(text: str, n_merges: int, byte_map: dict[int, str]) -> list[tuple[str, str]]:
    """Plain BPE: repeatedly merge the most frequent adjacent pair.

    Ties are broken by the pair's strings, so the result is deterministic.
    """
    word_counts = Counter(pre_tokenize(text))
    words = [(tuple(byte_map[b] for b in w.encode("utf-8")), c)
             for w, c in sorted(word_counts.items())]
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter = Counter()
        for syms, c in words:
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        best = min(p for p, c in pairs.items() if c == best_count)
        merges.append(best)
        merged = best[0] + best[1]
        new_words = []
        for syms, c in words:
            out = []
            i = 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            new_words.append((tuple(out), c))
        words = new_words
    return merges


def build_vocab() -> tuple[list[str], list[tuple[str, str]]]:
    byte_map = bytes_to_unicode()
    tokens = list(SPECIAL_TOKENS) + [byte_map[b] for b in sorted(byte_map, key=lambda b: ord(byte_map[b]))]
    merges = train_bpe(CORPUS, N_MERGES, byte_map)
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            seen.add(a + b)
            tokens.append(a + b)
    return tokens, merges


def token_bytes(tok: str, inv_byte_map: dict[str, int]) -> bytes:
    return bytes(inv_byte_map[ch] for ch in tok)


# ------------------------------------------------------------------- weights
def build_weights(tokens: list[str]) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(SEED)  # legacy RandomState: stream frozen across numpy versions
    n_vocab = len(tokens)
    n_embd_kv = N_HEAD_KV * HEAD_DIM

    def rand(*shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm_w():
        return (1.0 + rand(N_EMBD, scale=0.02)).astype(np.float32)

    w: dict[str, np.ndarray] = {}
    # numpy shapes are PyTorch-style (out_features, in_features); gguf reverses them.
    w["token_embd.weight"] = rand(n_vocab, N_EMBD, scale=1.0)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w[p + "attn_norm.weight"] = norm_w()
        w[p + "attn_norm.bias"] = rand(N_EMBD, scale=0.02)
        w[p + "attn_q.weight"] = rand(N_EMBD, N_EMBD, scale=N_EMBD ** -0.5)
        w[p + "attn_q.bias"] = rand(N_EMBD, scale=0.02)
        w[p + "attn_k.weight"] = rand(n_embd_kv, N_EMBD, scale=N_EMBD ** -0.5)
        w[p + "attn_k.bias"] = rand(n_embd_kv, scale=0.02)
        w[p + "attn_v.weight"] = rand(n_embd_kv, N_EMBD, scale=N_EMBD ** -0.5)
        w[p + "attn_v.bias"] = rand(n_embd_kv, scale=0.02)
        w[p + "attn_output.weight"] = rand(N_EMBD, N_EMBD, scale=0.5 * N_EMBD ** -0.5)
        w[p + "attn_output.bias"] = rand(N_EMBD, scale=0.02)
        w[p + "ffn_norm.weight"] = norm_w()
        w[p + "ffn_norm.bias"] = rand(N_EMBD, scale=0.02)
        w[p + "ffn_up.weight"] = rand(N_FF, N_EMBD, scale=N_EMBD ** -0.5)
        w[p + "ffn_up.bias"] = rand(N_FF, scale=0.02)
        w[p + "ffn_down.weight"] = rand(N_EMBD, N_FF, scale=0.5 * N_FF ** -0.5)
        w[p + "ffn_down.bias"] = rand(N_EMBD, scale=0.02)

    # Final norm: weight ~ 1, bias = constant vector b (orthogonal to the
    # zero-mean normalized activations).  logit(row r) = r.(w*xhat) + r.b.
    w["output_norm.weight"] = norm_w()
    b = np.ones(N_EMBD, dtype=np.float64)
    w["output_norm.bias"] = b.astype(np.float32)
    u = b / np.linalg.norm(b)

    inv = {v: k for k, v in bytes_to_unicode().items()}
    allowed_bytes = set(range(0x20, 0x7F)) | {0x09, 0x0A}
    out = rng.standard_normal((n_vocab, N_EMBD)) * 0.4
    out -= np.outer(out @ u, u)                      # random part orthogonal to b
    for tid, tok in enumerate(tokens):
        tb = token_bytes(tok, inv)
        if tid < len(SPECIAL_TOKENS) or not set(tb) <= allowed_bytes:
            out[tid] = BLOCKED * b / (b @ b)         # logit ~ -30 for any input
        else:                                        # logit = margin + random part
            out[tid] += (MARGIN + (NEWLINE_BOOST if b"\n" in tb else 0.0)) * b / (b @ b)
    w["output.weight"] = out.astype(np.float32)
    return w


# -------------------------------------------------------------------- output
def write_gguf(path: str, tokens: list[str], merges: list[tuple[str, str]],
               weights: dict[str, np.ndarray]) -> None:
    K = gguf.Keys
    wr = gguf.GGUFWriter(path, "starcoder2")
    wr.add_name(NAME)
    wr.add_context_length(N_CTX)
    wr.add_embedding_length(N_EMBD)
    wr.add_block_count(N_LAYER)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_layer_norm_eps(LN_EPS)
    wr.add_rope_freq_base(ROPE_FREQ_BASE)
    wr.add_rope_dimension_count(HEAD_DIM)
    wr.add_file_type(gguf.LlamaFileType.ALL_F32)

    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("starcoder")
    wr.add_token_list(tokens)
    wr.add_token_types([TOKEN_TYPE_CONTROL if i < len(SPECIAL_TOKENS) else TOKEN_TYPE_NORMAL
                        for i in range(len(tokens))])
    wr.add_token_merges([f"{a} {b}" for a, b in merges])
    wr.add_bos_token_id(0)
    wr.add_eos_token_id(0)
    wr.add_pad_token_id(0)
    wr.add_add_bos_token(False)
    wr.add_uint32(K.Tokenizer.FIM_PRE_ID, FIM_PRE_ID)
    wr.add_uint32(K.Tokenizer.FIM_MID_ID, FIM_MID_ID)
    wr.add_uint32(K.Tokenizer.FIM_SUF_ID, FIM_SUF_ID)
    wr.add_uint32(K.Tokenizer.FIM_PAD_ID, FIM_PAD_ID)
    wr.add_uint32(K.Tokenizer.FIM_REP_ID, FIM_REP_ID)
    wr.add_uint32(K.Tokenizer.FIM_SEP_ID, FIM_SEP_ID)

    for name, t in weights.items():
        wr.add_tensor(name, t)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def write_tokenizer_json(path: str, tokens: list[str], merges: list[tuple[str, str]]) -> None:
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, t in enumerate(SPECIAL_TOKENS)
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                byte_level,
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": True},
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(tokens)},
            "merges": [[a, b] for a, b in merges],
        },
    }
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main() -> None:
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    tokens, merges = build_vocab()
    assert len(set(tokens)) == len(tokens)
    assert all(a in tokens and b in tokens and a + b in tokens for a, b in merges)
    assert "\u010a" in tokens  # byte-level "\n"
    weights = build_weights(tokens)
    gguf_path = os.path.join(outdir, NAME + ".gguf")
    tok_path = os.path.join(outdir, NAME + ".tokenizer.json")
    write_gguf(gguf_path, tokens, merges, weights)
    write_tokenizer_json(tok_path, tokens, merges)
    print(f"wrote {gguf_path} ({os.path.getsize(gguf_path)} bytes), "
          f"{tok_path} ({os.path.getsize(tok_path)} bytes); "
          f"n_vocab={len(tokens)} n_merges={len(merges)}")


if __name__ == "__main__":
    main()
