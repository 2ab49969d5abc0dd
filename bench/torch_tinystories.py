"""PyTorch reference trainer for the TinyStories recipe: the same GPT-2 as tsgrad (pre-LN, fused
c_attn, GELU tanh, tied head without bias, LayerNorm eps 1e-5, normal init std 0.02 with the two
residual projections at 0.02/sqrt(2*n_layer), zero biases), the same data (uint16 .bin files of
GPT-2 ids from `npm run pretokenize`: non-overlapping windows of T+1 tokens, a fresh shuffle per
epoch) and the same AdamW (weight decay on >=2-D tensors only, betas (0.9, 0.95), eps 1e-8,
global-norm clip 1.0) or, with --optimizer muon, tsgrad's Muon (src/nn/optim/muon.ts: Nesterov
momentum 0.95, five Newton-Schulz steps, lr x sqrt(max(1, out/in))) on the blocks' weight matrices
and that AdamW on the rest, both scaled by one schedule, trained for a budget of TOKENS or of wall-clock MINUTES with linear warmup
and cosine decay laid over the fraction of the budget used, so every run ends annealed.

--head-vocab data: the embedding and the tied head hold only the K ids that occur in train.bin
plus one "other" row; the V-K unseen ids share other's probability evenly, so the loss of an
unseen target is CE(other) + log(V-K) and the model is still a distribution over all 50257 ids
(its loss compares with --head-vocab full's). An unseen input id embeds as the other row.

At the end it prints the validation loss (mean per-token loss over all 50257 ids, over every
window of val.bin unless --eval-tokens limits it to the first N tokens), a sample from
"Once upon a time", and one JSON line (prefix RESULT ) with the config and the numbers.
Run with Debian's torch: /usr/bin/python3 bench/torch_tinystories.py --data data/tinystories --tokens 1.5e6
"""
import argparse
import json
import math
import os
import subprocess
import time


from openblas_env import add_threads_flag, openblas_env  # noqa: E402  (bench/openblas_env.py)

openblas_env(default_threads=1)
import numpy as np  # noqa: E402  (after openblas_env)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

VOCAB = 50257
EOT = 50256


class Block(nn.Module):
    def __init__(self, c, h, p):
        super().__init__()
        self.h, self.p = h, p
        self.ln_1 = nn.LayerNorm(c, eps=1e-5)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=1e-5)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x, mask):  # x [B, T, C]
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.h))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        att = F.dropout(att, self.p, self.training)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + F.dropout(self.c_proj(y), self.p, self.training)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + F.dropout(self.mlp_proj(h), self.p, self.training)


class GPT2(nn.Module):
    """rows: embedding/head rows (VOCAB for the full head, K+1 for the data head)."""

    def __init__(self, n_layer, d_model, n_head, ctx, rows, dropout):
        super().__init__()
        self.p = dropout
        self.wte = nn.Embedding(rows, d_model)
        self.wpe = nn.Embedding(ctx, d_model)
        self.h = nn.ModuleList([Block(d_model, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model, eps=1e-5)
        self.register_buffer("mask", torch.ones(ctx, ctx, dtype=torch.bool).triu(1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, std=std)
            elif "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx):  # idx [B, T] of head rows -> logits [B, T, rows]
        T = idx.shape[1]
        x = F.dropout(self.wte(idx) + self.wpe(torch.arange(T)), self.p, self.training)
        for block in self.h:
            x = block(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()


class Head:
    """Maps GPT-2 ids to head rows and back. full: the identity. data: the K ids of train.bin, then other."""

    def __init__(self, kind, train_ids):
        self.kind = kind
        if kind == "full":
            self.rows = VOCAB
            self.to_row = torch.arange(VOCAB)
            self.unseen_log = 0.0
            return
        kept = np.unique(train_ids)
        self.kept = torch.from_numpy(kept.astype(np.int64))
        self.K = len(kept)
        self.rows = self.K + 1
        to_row = np.full(VOCAB, self.K, dtype=np.int64)
        to_row[kept] = np.arange(self.K)
        self.to_row = torch.from_numpy(to_row)
        self.unseen = torch.from_numpy(np.setdiff1d(np.arange(VOCAB), kept).astype(np.int64))
        self.unseen_log = math.log(VOCAB - self.K)

    def loss(self, logits, targets, reduction="mean"):
        """Per-token loss over all VOCAB ids; targets are GPT-2 ids."""
        rows = self.to_row[targets]
        ce = F.cross_entropy(logits.reshape(-1, self.rows), rows.reshape(-1), reduction="none")
        if self.kind == "data":
            ce = ce + (rows.reshape(-1) == self.K).float() * self.unseen_log
        return ce.mean() if reduction == "mean" else ce

    def sample(self, row, gen):
        """The GPT-2 id of a sampled head row (other: one of the unseen ids, uniformly)."""
        if self.kind == "full":
            return row
        if row < self.K:
            return int(self.kept[row])
        return int(self.unseen[torch.randint(len(self.unseen), (1,), generator=gen)])


class Windows:
    """Non-overlapping windows of T+1 tokens (window j starts at j*T), a fresh seeded shuffle per epoch."""

    def __init__(self, tokens, T, B, seed):
        self.tokens, self.T, self.B = torch.from_numpy(tokens.astype(np.int64)), T, B
        self.W = (len(tokens) - 1) // T
        self.gen = torch.Generator().manual_seed(seed)
        self.order, self.pos, self.epoch = torch.randperm(self.W, generator=self.gen), 0, 0
        self.offsets = torch.arange(T + 1)

    def next(self):
        idx = []
        for _ in range(self.B):
            if self.pos == self.W:
                self.order, self.pos, self.epoch = torch.randperm(self.W, generator=self.gen), 0, self.epoch + 1
            idx.append(int(self.order[self.pos]))
            self.pos += 1
        w = self.tokens[(torch.tensor(idx)[:, None] * self.T) + self.offsets]  # [B, T+1]
        return w[:, :-1], w[:, 1:]


def newton_schulz5(G):
    """Five quintic Newton-Schulz steps from G/|G| on the wide orientation: ~ G's nearest semi-orthogonal matrix."""
    a, b, c = (3.4445, -4.7750, 2.0315)
    tall = G.size(0) > G.size(1)
    X = G.t() if tall else G
    X = X / (X.norm() + 1e-7)
    for _ in range(5):
        A = X @ X.t()
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.t() if tall else X


class Muon:
    """Muon on weight matrices [out, in]: buf = mu*buf + g; W -= lr*sqrt(max(1, out/in))*NS5(g + mu*buf)."""

    def __init__(self, params, lr, momentum=0.95):
        self.params, self.lr, self.mu = params, lr, momentum
        self.buf = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self):
        for p, buf in zip(self.params, self.buf):
            buf.mul_(self.mu).add_(p.grad)
            p.add_(newton_schulz5(p.grad + self.mu * buf), alpha=-self.lr * max(1, p.size(0) / p.size(1)) ** 0.5)


def lr_at(frac, step, warm_end, a):
    """Linear warmup over the first --warmup-steps steps (else the first --warmup of the budget),
    then cosine from a.lr at warm_end (the budget fraction where warmup ended) to a.min_lr at 1."""
    if a.warmup_steps > 0:
        if step < a.warmup_steps:
            return a.lr * (step + 1) / a.warmup_steps
    elif frac < a.warmup:
        return a.lr * frac / a.warmup
    t = min(1.0, (frac - warm_end) / max(1e-12, 1 - warm_end))
    return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(model, head, tokens, T, max_tokens, batch=16):
    """Per-window mean losses [W] over every full window of T+1 tokens in the first max_tokens (0 = all)."""
    model.eval()
    n = len(tokens) if max_tokens <= 0 else min(len(tokens), int(max_tokens) + 1)
    W = (n - 1) // T
    toks = torch.from_numpy(tokens[: W * T + 1].astype(np.int64))
    per_window = []
    for s in range(0, W, batch):
        e = min(W, s + batch)
        w = torch.stack([toks[j * T : j * T + T + 1] for j in range(s, e)])  # [b, T+1]
        ce = head.loss(model(head.to_row[w[:, :-1]]), w[:, 1:], reduction="none")  # [b*T]
        per_window.append(ce.double().view(e - s, T).mean(1))
    model.train()
    return torch.cat(per_window)


def flops_per_token(a, rows):
    """Training FLOPs per token: 6 per weight of every matmul (blocks and head) + causal attention's 6*T*d per layer."""
    return 6 * (12 * a.n_layer * a.d_model**2 + rows * a.d_model) + 6 * a.n_layer * a.ctx * a.d_model


@torch.no_grad()
def sample(model, head, T, prompt_ids, n, temperature, seed):
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ids = list(prompt_ids)
    for _ in range(n):
        ctx = head.to_row[torch.tensor(ids[-T:])][None]
        logits = model(ctx)[0, -1].double()
        if temperature == 0:
            row = int(logits.argmax())
        else:
            row = int(torch.multinomial((logits / temperature).softmax(-1), 1, generator=gen))
        tok = head.sample(row, gen)
        if tok == EOT:
            break
        ids.append(tok)
    model.train()
    return ids


# GPT-2's BPE through the repo's own tokenizer dependency (js-tiktoken), run by node from the repo root.
JS_TIKTOKEN = (
    "import {Tiktoken} from 'js-tiktoken/lite'; import gpt2 from 'js-tiktoken/ranks/gpt2';"
    "const t = new Tiktoken(gpt2); const [op, arg] = JSON.parse(process.argv[1]);"
    "console.log(JSON.stringify(op === 'encode' ? t.encode(arg, [], []) : t.decode(arg)));"
)


def tiktoken_js(op, arg):
    """js-tiktoken's encode (text -> ids, no special tokens) or decode (ids -> text); None if node cannot run it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["node", "--input-type=module", "-e", JS_TIKTOKEN, json.dumps([op, arg])],
                             cwd=root, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory with train.bin and val.bin (npm run pretokenize)")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=128, help="tokens per training (and validation) window")
    ap.add_argument("--batch", type=int, default=8, help="windows per step")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--min-lr", type=float, default=None, help="learning rate at the end of the budget (default lr/10)")
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of the budget spent warming up linearly")
    ap.add_argument("--warmup-steps", type=int, default=0, help="warm up over this many steps instead of --warmup")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--grad-clip", type=float, default=1.0, help="global-norm clip; 0 = off")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--optimizer", choices=["adamw", "muon"], default="adamw", help="muon: Muon on the blocks' matrices, AdamW on the rest")
    ap.add_argument("--muon-lr", type=float, default=0.02, help="Muon's peak lr (--optimizer muon); the schedule scales it with --lr")
    ap.add_argument("--head-vocab", choices=["full", "data"], default="full")
    budget = ap.add_mutually_exclusive_group(required=True)
    budget.add_argument("--tokens", type=float, help="training tokens budget (B*T per step)")
    budget.add_argument("--minutes", type=float, help="wall-clock training budget (evaluation not counted)")
    add_threads_flag(ap, default=1)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--eval-tokens", type=float, default=0, help="evaluate on the first N val tokens; 0 = the whole split")
    ap.add_argument("--first-windows", type=int, default=80, help="also report the loss over the first N val windows (tsgrad's preset evaluates 10 batches of 8)")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--prompt", default="Once upon a time", help="prompt of the sample printed at the end")
    ap.add_argument("--sample-tokens", type=int, default=80)
    ap.add_argument("--temperature", type=float, default=0.0, help="sampling temperature; 0 = greedy")
    a = ap.parse_args()
    if a.min_lr is None:
        a.min_lr = a.lr / 10
    if a.d_model % a.n_head:
        ap.error(f"--d-model {a.d_model} is not a multiple of --n-head {a.n_head}")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def read(name):
        path = os.path.join(a.data, name)
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no such file (make it with npm run pretokenize)")
        return np.fromfile(path, dtype=np.uint16)

    train_ids, val_ids = read("train.bin"), read("val.bin")
    prompt = tiktoken_js("encode", a.prompt)
    if prompt is None:
        raise SystemExit("bench/torch_tinystories.py: node could not run js-tiktoken to encode --prompt (run npm ci in the repo)")
    head = Head(a.head_vocab, train_ids)
    model = GPT2(a.n_layer, a.d_model, a.n_head, a.ctx, head.rows, a.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    matrices = [p for n, p in model.named_parameters() if n.startswith("h.") and p.dim() == 2] if a.optimizer == "muon" else []
    muon = Muon(matrices, a.muon_lr) if matrices else None
    rest = [p for p in model.parameters() if all(p is not m for m in matrices)]
    decay = [p for p in rest if p.dim() >= 2]
    no_decay = [p for p in rest if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr, betas=(0.9, a.beta2), eps=1e-8,
    )
    data = Windows(train_ids, a.ctx, a.batch, a.seed)
    per_step = a.batch * a.ctx
    print(
        f"{n_params / 1e6:.2f}M params, head rows {head.rows}, train {len(train_ids):,} tokens "
        f"({data.W} windows), val {len(val_ids):,} tokens, {per_step} tokens/step, threads {a.threads}, "
        f"OpenBLAS core {os.environ.get('OPENBLAS_CORETYPE', 'auto')}",
        flush=True,
    )

    step, seen, t0 = 0, 0, time.perf_counter()
    warm_end = a.warmup  # budget fraction where the warmup ends (measured with --warmup-steps)
    recent = []
    while True:
        elapsed = time.perf_counter() - t0
        frac = seen / a.tokens if a.tokens else elapsed / (60 * a.minutes)
        if frac >= 1:
            break
        if a.warmup_steps > 0 and step <= a.warmup_steps:
            warm_end = frac
        lr = lr_at(frac, step, warm_end, a)
        for g in opt.param_groups:
            g["lr"] = lr
        if muon is not None:
            muon.lr = a.muon_lr * lr / a.lr
        x, y = data.next()
        loss = head.loss(model(head.to_row[x]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        opt.step()
        if muon is not None:
            muon.step()
        step += 1
        seen += per_step
        recent = (recent + [loss.item()])[-50:]
        if step % a.log_every == 0:
            el = time.perf_counter() - t0
            print(f"step {step} tokens {seen:,} loss {sum(recent) / len(recent):.4f} lr {lr:.2e} {seen / el:.0f} tok/s", flush=True)
    train_s = time.perf_counter() - t0
    e0 = time.perf_counter()
    windows = evaluate(model, head, val_ids, a.ctx, a.eval_tokens)
    val, val_count = float(windows.mean()), windows.numel() * a.ctx
    # tsgrad's in-training evaluation reads only the first --eval-batches x --batch-size windows
    first = float(windows[: a.first_windows].mean())
    eval_s = time.perf_counter() - e0
    print(f"val loss {val:.4f} over {val_count:,} tokens ({eval_s:.0f} s), {first:.4f} over the first {a.first_windows} windows; "
          f"{step} steps, {seen:,} tokens, "
          f"{train_s:.0f} s, {seen / train_s:.0f} tok/s, epochs {seen / len(train_ids):.2f}", flush=True)
    ids = sample(model, head, a.ctx, prompt, a.sample_tokens, a.temperature, a.seed)
    text = tiktoken_js("decode", ids)
    print("sample:", json.dumps(text) if text is not None else ids, flush=True)
    cfg = {k: v for k, v in vars(a).items() if k not in ("data", "log_every", "prompt", "sample_tokens", "temperature")}
    print("RESULT " + json.dumps({
        **cfg, "params": n_params, "steps": step, "train_tokens": seen, "train_s": round(train_s, 1),
        "tok_s": round(seen / train_s), "train_loss_last50": round(sum(recent) / len(recent), 4),
        "val_loss": round(val, 4), "val_tokens": val_count, "val_loss_first_windows": round(first, 4),
        "mflop_per_token": round(flops_per_token(a, head.rows) / 1e6, 2),
    }), flush=True)


if __name__ == "__main__":
    main()
