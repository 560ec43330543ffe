"""Training and evaluation throughput of every model, side by side in one run, against an earlier kit.

    python benchmarks/bench_models.py                      # vs commit 4630003, 3 interleaved rounds (~8 min)
    python benchmarks/bench_models.py --rounds 1 --models aimstf-reference,aimstf
    python benchmarks/bench_models.py --results benchmarks/results   # also write models.md / models.json

Every measurement runs in a fresh process (as a training worker would: `tune_cpu_allocator()`, `--threads`
torch threads, batch 64), and the rounds interleave the rows so that a slow spell of the machine hits every
row alike; a row's figure is its median over rounds. Train = forward + backward + Adam step on random inputs;
eval = forward under no_grad. "fast" = bfloat16 autocast (`TrainConfig(precision="bf16")`, `aimstf cv
--precision bf16`; the default on a GPU).

The yardstick is the reference variant of the kit at `--baseline` (default 4630003, extracted with `git archive`
into a temporary folder and imported from there). Measured on this machine class in separate processes, the
public code trains at 49-50 samples/s and commit 4630003's reference variant at 67-70 (1.4x the public code);
so 1.6x the public code is >= 1.15x commit 4630003, and 3x is >= 2.15x (issue 13's targets, both variants).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_PER_BASELINE = 1 / 1.4  # the public code's training speed in units of commit 4630003's reference variant


def throughput(model, batch=64, steps=6, warmup=2, train=True, autocast=None):
    "Samples per second of `model` (train: forward, backward, Adam step; else forward under no_grad)."
    import torch
    face, eeg = torch.rand(batch, 5, 3, 64, 64), torch.randn(batch, 32, 128)
    y = torch.randint(0, 2, (batch,))
    loss_fn = model.default_loss()
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-4)
    model.train(train)

    def step():
        ctx = torch.autocast("cpu", dtype=autocast) if autocast else torch.autocast("cpu", enabled=False)
        if train:
            with ctx:
                loss = loss_fn(model(face, eeg), y).total
            opt.zero_grad(set_to_none=True)
            loss.float().backward()
            opt.step()
        else:
            with torch.no_grad(), ctx:
                model(face, eeg)

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def child(a) -> None:
    "One measurement, in this fresh process; prints a JSON line."
    import torch
    from aimstf_kit.core import tune_cpu_allocator
    try:
        from aimstf_kit.models.registry import build_model
    except ImportError:  # older kits
        from aimstf_kit.models.baselines import build_model
    tune_cpu_allocator()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ac = torch.bfloat16 if a.precision == "bf16" else None
    m = build_model(a.child)
    tr = throughput(m, steps=a.steps, train=True, autocast=ac)
    ev = throughput(m, steps=a.steps, train=False, autocast=ac)
    import aimstf_kit
    print(json.dumps(dict(train=tr, eval=ev, kit=str(Path(aimstf_kit.__file__).parent))))


def extract(rev: str, into: Path) -> Path:
    "The package `aimstf_kit` of commit `rev`, extracted into `into`."
    tar = into / "kit.tar"
    with open(tar, "wb") as f:
        subprocess.run(["git", "archive", rev, "aimstf_kit"], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def measure(model: str, precision: str, a, kit_path=None) -> dict:
    env = dict(os.environ)
    if kit_path is not None:
        env["PYTHONPATH"] = str(kit_path)
    cmd = [sys.executable, __file__, "--child", model, "--precision", precision, "--steps", str(a.steps),
           "--threads", str(a.threads)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if r.returncode:
        raise RuntimeError(f"{model} {precision}: {r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if kit_path is not None and not out["kit"].startswith(str(kit_path)):
        raise RuntimeError(f"the baseline run imported {out['kit']}, not the kit in {kit_path}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", default="4630003", help="git revision whose reference variant is the yardstick")
    ap.add_argument("--models", default="aimstf-reference,aimstf,eeg-only,face-only,tsception,deepvanet")
    ap.add_argument("--fast-models", default="aimstf-reference,aimstf", help="also measured in fast mode (bf16)")
    ap.add_argument("--results", type=Path, default=None, help="write models.md and models.json here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    import torch
    rows = [("baseline", "aimstf-reference", "fp32")]
    rows += [("kit", m, "fp32") for m in a.models.split(",") if m]
    rows += [("kit", m, "bf16") for m in a.fast_models.split(",") if m]
    got = {r: [] for r in rows}
    with tempfile.TemporaryDirectory() as d:
        base = extract(a.baseline, Path(d))
        for k in range(a.rounds):
            for r in rows:
                got[r].append(measure(r[1], r[2], a, base if r[0] == "baseline" else None))
                print(f"round {k + 1}: {r}: train {got[r][-1]['train']:.1f}/s", file=sys.stderr, flush=True)
    med = {r: {k: statistics.median(x[k] for x in v) for k in ("train", "eval")} for r, v in got.items()}
    yard = med[rows[0]]["train"]
    lines = [f"# Model throughput (`python benchmarks/bench_models.py --rounds {a.rounds}`)", "",
             f"torch {torch.__version__}, {a.threads} threads, batch 64, each figure the median of {a.rounds} fresh processes, "
             f"rounds interleaved. Yardstick: commit {a.baseline}'s reference variant (fp32); the public code is taken as "
             f"{PUBLIC_PER_BASELINE:.3f} of it (49-50 against 67-70 samples/s, measured side by side for issue 13).", "",
             "| kit | model | precision | train/s | eval/s | train vs baseline | train vs public code |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        t, e = med[r]["train"], med[r]["eval"]
        lines.append(f"| {a.baseline if r[0] == 'baseline' else 'this'} | {r[1]} | {r[2]} | {t:.1f} | {e:.1f} | "
                     f"{t / yard:.2f}x | {t / yard / PUBLIC_PER_BASELINE:.2f}x |")
    checks = []
    for m in ("aimstf-reference", "aimstf"):
        for prec, need in (("fp32", 1.15), ("bf16", 2.15)):
            r = ("kit", m, prec)
            if r in med:
                x = med[r]["train"] / yard
                checks.append(f"- {m} {prec}: {x:.2f}x commit {a.baseline} (target >= {need}x, i.e. "
                              f"{need / PUBLIC_PER_BASELINE:.2f}x the public code): {'PASS' if x >= need else 'FAIL'}")
    text = "\n".join(lines + [""] + checks) + "\n"
    print(text)
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        (a.results / "models.md").write_text(text)
        (a.results / "models.json").write_text(json.dumps(
            dict(baseline=a.baseline, threads=a.threads, rounds=a.rounds, steps=a.steps, torch=torch.__version__,
                 rows=[dict(kit=r[0], model=r[1], precision=r[2], runs=got[r], **med[r]) for r in rows]), indent=1))


if __name__ == "__main__":
    sys.exit(main())
