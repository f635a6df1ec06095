#!/usr/bin/env python3
"""Sanity-check tiny-starcoder2.gguf and tiny-starcoder2.tokenizer.json.

Reads the GGUF back with gguf.GGUFReader (metadata, ids, tensor shapes), checks
that the tokenizer.json has exactly the same vocabulary and merges, and that
the Hugging Face `tokenizers` package encodes sample text sensibly (special
tokens -> ids 0-6, lossless round trip).

Usage: python3 check_tiny_starcoder2.py [DIR]    (needs: pip install gguf numpy tokenizers)
"""

from __future__ import annotations

import json
import os
import sys

import gguf
from tokenizers import Tokenizer

SPECIAL = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>",
           "<fim_pad>", "<repo_name>", "<file_sep>"]


def field(reader: gguf.GGUFReader, key: str):
    f = reader.fields[key]
    return f.contents()


def main() -> None:
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    gguf_path = os.path.join(d, "tiny-starcoder2.gguf")
    tok_path = os.path.join(d, "tiny-starcoder2.tokenizer.json")
    assert os.path.getsize(gguf_path) < 1 << 20

    r = gguf.GGUFReader(gguf_path)
    expect = {
        "general.architecture": "starcoder2",
        "general.name": "tiny-starcoder2",
        "starcoder2.context_length": 4096,
        "starcoder2.embedding_length": 64,
        "starcoder2.block_count": 2,
        "starcoder2.feed_forward_length": 128,
        "starcoder2.attention.head_count": 4,
        "starcoder2.attention.head_count_kv": 2,
        "starcoder2.rope.dimension_count": 16,
        "starcoder2.rope.freq_base": 100000.0,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "starcoder",
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 0,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.ggml.fim_pre_token_id": 1,
        "tokenizer.ggml.fim_mid_token_id": 2,
        "tokenizer.ggml.fim_suf_token_id": 3,
        "tokenizer.ggml.fim_pad_token_id": 4,
        "tokenizer.ggml.fim_rep_token_id": 5,
        "tokenizer.ggml.fim_sep_token_id": 6,
    }
    for k, v in expect.items():
        got = field(r, k)
        assert got == v, (k, got, v)
    eps = field(r, "starcoder2.attention.layer_norm_epsilon")
    assert abs(eps - 1e-5) < 1e-9, eps

    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    n_vocab = len(tokens)
    assert tokens[:7] == SPECIAL, tokens[:7]
    assert types[:7] == [3] * 7 and set(types[7:]) == {1}
    assert "\u010a" in tokens  # "\n"
    assert len(set(tokens)) == n_vocab
    tok_set = set(tokens)
    for m in merges:
        a, b = m.split(" ")
        assert a in tok_set and b in tok_set and a + b in tok_set, m

    shapes = {t.name: tuple(int(x) for x in t.shape) for t in r.tensors}  # ggml order (ne0, ne1)
    n_embd, n_ff, n_kv = 64, 128, 2 * 16
    want = {"token_embd.weight": (n_embd, n_vocab), "output_norm.weight": (n_embd,),
            "output_norm.bias": (n_embd,), "output.weight": (n_embd, n_vocab)}
    for i in range(2):
        p = f"blk.{i}."
        want.update({
            p + "attn_norm.weight": (n_embd,), p + "attn_norm.bias": (n_embd,),
            p + "attn_q.weight": (n_embd, n_embd), p + "attn_q.bias": (n_embd,),
            p + "attn_k.weight": (n_embd, n_kv), p + "attn_k.bias": (n_kv,),
            p + "attn_v.weight": (n_embd, n_kv), p + "attn_v.bias": (n_kv,),
            p + "attn_output.weight": (n_embd, n_embd), p + "attn_output.bias": (n_embd,),
            p + "ffn_norm.weight": (n_embd,), p + "ffn_norm.bias": (n_embd,),
            p + "ffn_up.weight": (n_embd, n_ff), p + "ffn_up.bias": (n_ff,),
            p + "ffn_down.weight": (n_ff, n_embd), p + "ffn_down.bias": (n_embd,),
        })
    assert shapes == want, set(shapes.items()) ^ set(want.items())

    # tokenizer.json: same vocab and merges
    with open(tok_path, encoding="utf-8") as f:
        tj = json.load(f)
    assert tj["model"]["vocab"] == {t: i for i, t in enumerate(tokens)}
    assert [" ".join(m) for m in tj["model"]["merges"]] == merges
    assert [(a["id"], a["content"], a["special"]) for a in tj["added_tokens"]] == \
        [(i, t, True) for i, t in enumerate(SPECIAL)]

    tk = Tokenizer.from_file(tok_path)
    assert tk.get_vocab_size() == n_vocab
    samples = [
        "def fib(n):\n    return fib(n-1)",
        "<fim_prefix>a.py\nx<fim_suffix>y<fim_middle>",
        "fn main() {\n    println!(\"h\u00e9llo 12345 \U0001F600\");\n}\n",
        "<repo_name>infill<file_sep>src/lib.rs\n\tx<|endoftext|>",
    ]
    for s in samples:
        ids = tk.encode(s, add_special_tokens=False).ids
        assert all(0 <= i < n_vocab for i in ids)
        assert tk.decode(ids, skip_special_tokens=False) == s, (s, ids)
        print(f"{s!r} -> {ids}")
    ids = tk.encode(samples[1], add_special_tokens=False).ids
    assert ids[0] == 1 and ids.count(3) == 1 and ids[-1] == 2, ids
    assert ids[ids.index(3) - 1] != 3 and tokens[ids[ids.index(3) + 1]] == "y"
    ids = tk.encode("12345", add_special_tokens=False).ids
    assert [tokens[i] for i in ids] == list("12345"), ids  # digits split individually
    print(f"OK: n_vocab={n_vocab} n_merges={len(merges)} tensors={len(shapes)} "
          f"size={os.path.getsize(gguf_path)}")


if __name__ == "__main__":
    main()
