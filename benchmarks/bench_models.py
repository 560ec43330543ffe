"""Training and evaluation throughput of every model (fp32, batch 64, 2 threads), side by side in one run.

    python benchmarks/bench_models.py                 # every model, default settings
    python benchmarks/bench_models.py --extras        # + bf16 autocast and torch.compile for AIMSTF

Train = forward + backward + Adam step; eval = forward under no_grad. For the "reference" variant,
`fast=False` with the default allocator runs the public code's operator order and memory layout
(the stand-in for the public code: the same operators as its spec,
shared/reference/aimstf_reference_shapes.md); the kit's default is `fast=True` (channels-last face
CNN, pooling before ReLU, batched ConvLSTM input convolution) with `tune_cpu_allocator()`, which the
kit's training code applies. Rows after the allocator line run with the tuned allocator (it cannot
be undone within a process). DESIGN §5 gives the
public code's own figures on this machine class: about 40 samples/s train, 94 eval.
"""
import argparse
import time

import torch

from aimstf_kit.core import tune_cpu_allocator
from aimstf_kit.models.baselines import build_model


def throughput(model, batch=64, steps=6, warmup=2, train=True, autocast=None):
    face, eeg = torch.rand(batch, 5, 3, 64, 64), torch.randn(batch, 32, 128)
    y = torch.randint(0, 2, (batch,))
    loss_fn = model.default_loss()
    if train:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-4)

    def step():
        ctx = torch.autocast("cpu", dtype=autocast) if autocast else torch.autocast("cpu", enabled=False)
        if train:
            with ctx:
                out = model(face, eeg)
                loss = loss_fn(out, y).total
            opt.zero_grad(set_to_none=True)
            loss.float().backward()
            opt.step()
        else:
            with torch.no_grad(), ctx:
                model(face, eeg)

    if not train:
        model.eval()
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--extras", action="store_true", help="also bf16 autocast and torch.compile (AIMSTF reference)")
    ap.add_argument("--models", default="aimstf-reference,aimstf,eeg-only,face-only,tsception,deepvanet")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 64, fp32 unless stated")
    print(f"{'model':<52} {'train/s':>9} {'eval/s':>9}")
    rows = []
    names = a.models.split(",")
    if "aimstf-reference" in names:
        # first, as the public code runs: its operator order, default allocator
        rows.append(("aimstf-reference, fast=False (public operator order)", build_model("aimstf-reference", fast=False), None))
        rows.append(("aimstf-reference, fast=True, default allocator", build_model("aimstf-reference"), None))
        rows.append(("tune", None, None))
        rows.append(("aimstf-reference, fast=False, tuned allocator", build_model("aimstf-reference", fast=False), None))
    else:
        rows.append(("tune", None, None))
    for n in names:
        rows.append((n + (" (fast=True, default)" if n.startswith("aimstf") else ""), build_model(n), None))
    if a.extras:
        rows.append(("aimstf-reference, bf16 autocast", build_model("aimstf-reference"), torch.bfloat16))
    results = {}
    for label, model, ac in rows:
        if label == "tune":
            print(f"-- tune_cpu_allocator(): {tune_cpu_allocator()} (the kit's training code does this) --")
            continue
        tr = throughput(model, steps=a.steps, train=True, autocast=ac)
        ev = throughput(model, steps=a.steps, train=False, autocast=ac)
        results[label] = (tr, ev)
        print(f"{label:<52} {tr:>9.1f} {ev:>9.1f}", flush=True)
    if a.extras:
        try:
            m = build_model("aimstf-reference")
            m.face = torch.compile(m.face)
            m.eeg = torch.compile(m.eeg)
            t0 = time.perf_counter()
            throughput(m, steps=1, warmup=0, train=True)
            throughput(m, steps=1, warmup=0, train=False)
            print(f"  torch.compile warm-up took {time.perf_counter() - t0:.0f} s")
            tr, ev = throughput(m, steps=a.steps, train=True), throughput(m, steps=a.steps, train=False)
            print(f"{'aimstf-reference, torch.compile (encoders)':<52} {tr:>9.1f} {ev:>9.1f}")
        except Exception as e:  # compile needs a working C++ toolchain
            print(f"torch.compile failed: {type(e).__name__}: {str(e)[:200]}")
    slow = results.get("aimstf-reference, fast=False (public operator order)")
    fast = results.get("aimstf-reference (fast=True, default)")
    if slow and fast:
        print(f"\nreference variant, kit default (fast=True, tuned allocator) vs public operator order and allocator: "
              f"train {fast[0] / slow[0]:.2f}x, eval {fast[1] / slow[1]:.2f}x")
        print(f"against DESIGN's public-code figures (40 train / 94 eval samples/s): train {fast[0] / 40:.2f}x, eval {fast[1] / 94:.2f}x")


if __name__ == "__main__":
    main()
