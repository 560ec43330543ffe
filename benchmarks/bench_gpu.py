"""Training throughput of every model on a GPU against this machine's CPU, at equal batch (issue 13).

    python benchmarks/bench_gpu.py [--batch 64] [--results benchmarks/results]   # needs a CUDA GPU

Per model: train samples/s (forward, backward, Adam step on random inputs) on the CPU (fp32, `--threads`
threads, as a CPU fold trains) and on the GPU as `aimstf cv --device cuda` trains by default (bf16 autocast,
frame CNNs channels-last), and in fp32 on the GPU. Writes gpu.md and gpu.json (read by bench_executors.py's
projection). Exits with a message, and writes nothing, where no GPU is available.
"""
import argparse
import json
import sys
import time
from pathlib import Path

MODELS = ["aimstf", "aimstf-reference", "eeg-only", "face-only", "tsception", "deepvanet"]


def throughput(name: str, device: str, batch: int, precision: str, channels_last: bool, steps: int = 10) -> float:
    import torch
    from aimstf_kit.models.registry import build_model
    torch.manual_seed(0)
    m = build_model(name).to(device)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    face = torch.rand(batch, 5, 3, 64, 64, device=device)
    eeg, y = torch.randn(batch, 32, 128, device=device), torch.randint(0, 2, (batch,), device=device)
    loss_fn, opt = m.default_loss(), torch.optim.Adam(m.parameters(), lr=5e-4)
    dev = torch.device(device).type

    def step():
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(m(face, eeg), y).total
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()

    for _ in range(3):
        step()
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for the CPU column (default 2, a CPU fold's)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--results", type=Path, default=None)
    a = ap.parse_args()
    import torch
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here; nothing measured (run it where `torch.cuda.is_available()`).")
        return 2
    torch.set_num_threads(a.threads)
    gpu = torch.cuda.get_device_name(0)
    rows = []
    for n in a.models.split(","):
        cpu = throughput(n, "cpu", a.batch, "fp32", False, steps=3)
        g32 = throughput(n, "cuda", a.batch, "fp32", False)
        gfast = throughput(n, "cuda", a.batch, "bf16", True)
        rows.append(dict(model=n, cpu=cpu, gpu_fp32=g32, gpu=gfast, speedup=gfast / cpu))
        print(f"{n:<18} cpu {cpu:8.1f}/s  gpu fp32 {g32:9.1f}/s  gpu bf16+cl {gfast:9.1f}/s  ({gfast / cpu:.1f}x)", flush=True)
    lines = [f"# GPU against CPU (`python benchmarks/bench_gpu.py --batch {a.batch}`)", "",
             f"{gpu}, torch {torch.__version__}; CPU: {a.threads} threads, fp32. Training samples/s at batch {a.batch}.", "",
             "| model | CPU fp32 | GPU fp32 | GPU bf16 + channels-last (default) | GPU / CPU |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['cpu']:.1f} | {r['gpu_fp32']:.1f} | {r['gpu']:.1f} | {r['speedup']:.1f}x |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        (a.results / "gpu.md").write_text(text)
        (a.results / "gpu.json").write_text(json.dumps(dict(device=gpu, batch=a.batch, threads=a.threads, rows=rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
