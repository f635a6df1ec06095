#!/usr/bin/env python3
"""Unpacks a Qwen2-architecture GGUF (e.g. Qwen2.5-Coder-0.5B Q4_K_M) into a bf16 Hugging Face
checkpoint with its tokenizer, for servers that cannot read GGUF (vLLM 0.32 has no GGUF loader).
Only the GGUF is reachable from our machines, so this is how `.ci/vllm` gets a model vLLM can
serve: the weights are the GGUF's, dequantized, so its greedy answers match llama.cpp's on
text the model is sure of.

    python gguf_to_hf.py MODEL.gguf OUT_DIR

Needs torch, transformers, gguf and numpy (the vLLM venv has them).
"""
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from transformers import AutoConfig, AutoTokenizer, Qwen2ForCausalLM

# GGUF tensor names -> Hugging Face Qwen2 names. Qwen2 uses NEOX rope, so unlike llama the
# converter to GGUF did not permute q/k: the weights map one to one.
TOP = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
LAYER = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def main():
    gguf_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.bfloat16
    weights = {}
    for tensor in GGUFReader(gguf_path).tensors:
        base, kind = tensor.name.rsplit(".", 1)
        layer = re.match(r"blk\.(\d+)\.(.*)", base)
        name = f"model.layers.{layer[1]}.{LAYER[layer[2]]}" if layer else TOP[base]
        values = np.ascontiguousarray(dequantize(tensor.data, tensor.tensor_type))
        weights[f"{name}.{kind}"] = torch.from_numpy(values.astype(np.float32)).to(torch.bfloat16)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    expected = model.state_dict()
    for name, value in weights.items():
        assert name in expected and expected[name].shape == value.shape, name
    model.load_state_dict(weights, strict=False)
    if "lm_head.weight" not in weights:
        model.tie_weights()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name).save_pretrained(out)
    # The end-of-text tokens the upstream Qwen2.5-Coder checkpoint stops at (<|im_end|> and
    # <|endoftext|>); without the second the server would not stop at the end of a FIM answer.
    generation = out / "generation_config.json"
    settings = json.loads(generation.read_text())
    settings["eos_token_id"] = [151645, 151643]
    generation.write_text(json.dumps(settings, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
