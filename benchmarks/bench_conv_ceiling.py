"""Why issue 13's CPU speed targets are out of reach on this machine: how much of the reference variant's fp32
training step is convolution, and how close those convolutions already run to the machine's arithmetic ceiling.

    python benchmarks/bench_conv_ceiling.py                               # prints the table
    python benchmarks/bench_conv_ceiling.py --results benchmarks/results  # also writes conv_ceiling.md / .json

One process, `--threads` torch threads, batch 64, fp32, random inputs (as `bench_models.py`). Part 1 profiles
`--steps` training steps (forward, backward, Adam) with torch.profiler and sums the self time of the convolution
operators (forward and backward) against the whole step. Part 2 times every distinct convolution of the step on
its own, forward and forward+backward (the fastest of 5 runs), and turns the times into GFLOP/s (2 x multiply-adds; the backward is
counted as 2x the forward's work, or 1x where the input needs no gradient). Part 3 is the ceiling: a
4096 x 4096 fp32 matrix product on the same threads. If the convolutions already run near that ceiling and
make up most of the step, the rest of the step is too small a share to give the issue's 1.15x by itself.
"""
import argparse
import json
import platform
import time
from pathlib import Path


def conv_flops(x_shape, w_shape, out_shape):
    "2 x multiply-adds of one 1-d or 2-d convolution forward (the weight's in-channels are per group)."
    cin_k = 1
    for k in w_shape[1:]:
        cin_k *= k
    n_out = 1
    for k in out_shape:
        n_out *= k
    return 2 * n_out * cin_k


def profile_step(model, batch, steps):
    "Profiled training steps: (total self ms per step, conv self ms per step, the convolutions' input shapes)."
    import torch
    from torch.profiler import ProfilerActivity, profile
    face, eeg = torch.rand(batch, 5, 3, 64, 64), torch.randn(batch, 32, 128)
    y = torch.randint(0, 2, (batch,))
    loss_fn, opt = model.default_loss(), torch.optim.Adam(model.parameters(), lr=5e-4)

    def step():
        loss = loss_fn(model(face, eeg), y).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        for _ in range(steps):
            step()
    total = conv = 0.0
    for e in p.key_averages():
        total += e.self_cpu_time_total
        if e.key in CONV_OPS:
            conv += e.self_cpu_time_total
    return total / 1e3 / steps, conv / 1e3 / steps, conv_calls(model, face, eeg)


CONV_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution", "aten::thnn_conv2d",
            "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward", "aten::_nnpack_spatial_convolution")


def conv_calls(model, face, eeg):
    "Every distinct convolution of one forward pass: (input shape, weight shape, bias, stride, padding, dilation, groups)."
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten.convolution.default:
                x, w, b, stride, pad, dil, _, _, groups = args
                self.calls.add((tuple(x.shape), tuple(w.shape), b is not None, tuple(stride), tuple(pad),
                                tuple(dil), groups, x.is_contiguous(memory_format=torch.channels_last)
                                and x.dim() == 4))
            return func(*args, **(kwargs or {}))

    with Record() as r:
        model(face, eeg)
    return sorted(r.calls)


def time_conv(call, first, reps=5):
    """(forward ms, forward+backward ms, forward GFLOP) of one recorded convolution, in the memory format the model
    used; `first`: the input needs no gradient (the frame CNN's first convolution)."""
    import torch
    import torch.nn.functional as F
    xs, ws, bias, stride, pad, dil, groups, cl = call
    x = torch.randn(xs)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(ws, requires_grad=True)
    b = torch.randn(ws[0], requires_grad=True) if bias else None
    conv = F.conv2d if len(xs) == 4 else F.conv1d
    kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups)
    xg = x.clone().requires_grad_(not first)
    out = conv(x, w, b, **kw)
    gy = torch.randn_like(out)

    def fwd():
        with torch.no_grad():
            conv(x, w, b, **kw)

    def fb():
        conv(xg, w, b, **kw).backward(gy)

    res = []
    for f in (fwd, fb):
        f()
        ts = []
        for _ in range(reps):  # the fastest of `reps` runs: this machine has slow spells
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        res.append(min(ts) * 1e3)
    return res[0], res[1], conv_flops(xs, ws, out.shape) / 1e9


def gemm_ceiling(n=4096, reps=5):
    "GFLOP/s of an n x n fp32 matrix product."
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 / ((time.perf_counter() - t0) / reps) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="aimstf-reference")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--results", type=Path, default=None, help="write conv_ceiling.md and conv_ceiling.json here")
    a = p.parse_args()
    import torch
    from aimstf_kit.core import tune_cpu_allocator
    from aimstf_kit.models.registry import build_model
    tune_cpu_allocator()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    total, conv, shapes = profile_step(build_model(a.model), a.batch, a.steps)
    rows = []
    for call in shapes:
        first = call[0][1] == 3  # the frame CNN's first convolution: RGB input, no input gradient
        f, fb, gf = time_conv(call, first)
        bwd_work = gf * (1 if first else 2)
        rows.append(dict(input=list(call[0]), weight=list(call[1]), padding=list(call[4]), groups=call[6],
                         fwd_ms=f, fwd_gflops=gf / f * 1e3,
                         fwd_bwd_ms=fb, fwd_bwd_gflops=(gf + bwd_work) / fb * 1e3, gflop=gf))
    ceiling = gemm_ceiling()
    work = sorted(rows, key=lambda r: -r["gflop"])
    big = sum(r["gflop"] for r in work[:4]) / sum(r["gflop"] for r in work)
    lo, hi = min(r["fwd_gflops"] for r in work[:4]), max(r["fwd_gflops"] for r in work[:4])
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
        amx = any(f.startswith("amx") for f in flags)
    except (OSError, StopIteration):
        amx = None
    out = dict(model=a.model, threads=a.threads, batch=a.batch, torch=torch.__version__, cpu=cpu, amx=amx,
               step_ms=total, conv_ms=conv, conv_share=conv / total, gemm_gflops=ceiling, convs=rows)
    rows.sort(key=lambda r: -r["gflop"])
    lines = ["# Convolutions against the machine's ceiling (`python benchmarks/bench_conv_ceiling.py`)", "",
             f"{a.model}, fp32 training step, batch {a.batch}, {a.threads} threads, torch {torch.__version__}, "
             f"CPU {cpu} (AMX: {'yes' if amx else 'no'}).", "",
             f"- Profiled step: {total:.0f} ms, of which convolution operators (forward and backward) "
             f"{conv:.0f} ms = **{conv / total:.0%}**.",
             f"- For scale: a 4096 x 4096 fp32 matrix product (torch.mm) runs at **{ceiling:.0f} GFLOP/s** on the same "
             f"threads; the four face convolutions that carry {big:.0%} of the convolution work run at "
             f"{lo:.0f}-{hi:.0f} GFLOP/s forward.",
             f"- If every non-convolution operator took no time at all, the step would be "
             f"{total / conv:.2f}x faster; issue 13's fp32 target is 1.15x, i.e. removing "
             f"{(1 - 1 / 1.15) * total:.0f} ms = {(1 - 1 / 1.15) / (1 - conv / total):.0%} of the non-convolution time.", "",
             "| input | weight | padding, groups | GFLOP (fwd) | fwd ms | fwd GFLOP/s | fwd+bwd ms | fwd+bwd GFLOP/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['input']} | {r['weight']} | {r['padding']}, {r['groups']} | {r['gflop']:.2f} | {r['fwd_ms']:.1f} | {r['fwd_gflops']:.0f} | "
                     f"{r['fwd_bwd_ms']:.1f} | {r['fwd_bwd_gflops']:.0f} |")
    print("\n".join(lines))
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        (a.results / "conv_ceiling.md").write_text("\n".join(lines) + "\n")
        (a.results / "conv_ceiling.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
