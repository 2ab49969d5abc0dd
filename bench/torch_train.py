"""PyTorch side of `npm run bench:train`: the same GPT-2 (Hugging Face GPT2LMHeadModel math:
pre-LN, fused c_attn, gelu_new, tied head without bias, LayerNorm eps 1e-5), the same batch
shape and AdamW with weight decay on >=2-D tensors, timed over a few training steps on
`--threads` CPU threads, and PyTorch's own GEMM peak on those threads (the best of a 1024³
product and the case's lm head x·Wᵀ, [B·T, C]·[V, C]ᵀ, as bench/train.ts measures tsgrad's).
Prints one JSON line: {"ms_per_step", "tokens_per_s", "peak_rss_mb", "gemm_gflops"}.
Run with Debian's torch: /usr/bin/python3 bench/torch_train.py --config '{"n_layers": 2, ...}'
"""
import argparse
import json
import math
import resource
import time

from openblas_env import add_threads_flag, openblas_env  # bench/openblas_env.py

openblas_env(default_threads=2)
import torch  # noqa: E402  (after openblas_env)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(nn.Module):
    def __init__(self, c, h, eps):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c, eps=eps)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=eps)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.h))
        att = att.masked_fill(mask[:T, :T] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        h = self.c_fc(self.ln_2(x))
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3)))
        return x + self.mlp_proj(h)


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["d_model"]
        self.wte = nn.Embedding(cfg["vocab_size"], c)
        self.wpe = nn.Embedding(cfg["n_ctx"], c)
        self.h = nn.ModuleList([Block(c, cfg["n_heads"], 1e-5) for _ in range(cfg["n_layers"])])
        self.ln_f = nn.LayerNorm(c, eps=1e-5)
        self.register_buffer("mask", torch.tril(torch.ones(cfg["n_ctx"], cfg["n_ctx"])))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def gemm_peak(cfg, calls=5):
    """GFLOP/s of torch.mm: the best of a 1024³ product and the lm head's, after a warm-up call."""
    shapes = [(1024, 1024, 1024, False), (cfg["batch"] * cfg["ctx"], cfg["d_model"], cfg["vocab_size"], True)]
    best = 0.0
    for m, k, n, trans_b in shapes:
        a = torch.randn(m, k)
        b = torch.randn(n, k).t() if trans_b else torch.randn(k, n)
        a @ b
        t0 = time.perf_counter()
        for _ in range(calls):
            a @ b
        best = max(best, 2 * m * k * n * calls / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON: n_layers d_model n_heads vocab_size n_ctx batch ctx steps")
    add_threads_flag(ap, default=2)
    args = ap.parse_args()
    cfg = json.loads(args.config)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT2(cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    B, T = cfg["batch"], cfg["ctx"]
    tokens = torch.randint(0, cfg["vocab_size"], (B, T + 1))
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(cfg["steps"]):
        step()
    ms = (time.perf_counter() - t0) * 1000 / cfg["steps"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms_per_step": ms, "tokens_per_s": B * T / (ms / 1000), "peak_rss_mb": peak_mb, "gemm_gflops": gemm_peak(cfg)}))


if __name__ == "__main__":
    main()
