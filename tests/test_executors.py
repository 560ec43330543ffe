"""The Ray executor against the local one: a local Ray cluster of 2 CPUs on 127.0.0.1, started inside the test.
Same seed, same threads: results.csv byte-identical; a Ray worker killed mid-grid is retried and recorded; a fold
that dies on every attempt is reported (RunError), the others kept."""
import json
import os
import threading
import time

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import psutil  # noqa: E402  (both in the [dev] extra: a missing one fails the suite rather than skipping it)
import ray  # noqa: E402

from aimstf_kit.experiments import run_cv, synthetic_cache  # noqa: E402
from aimstf_kit.runs import RunError  # noqa: E402
from aimstf_kit.train import TrainConfig  # noqa: E402

GRID = dict(protocol="kfold-trial", models=["eeg-only", "tsception"], targets=["valence"], n_folds=3,
            train=TrainConfig(epochs=2, patience=2, batch_size=8), device="cpu", progress=False, threads=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return synthetic_cache(tmp_path_factory.mktemp("exec"), signal="eeg", subjects=1, trials=9, seconds=2, seed=3,
                           faces=False, progress=False)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


def kill_one_fold(stop: threading.Event, killed: list, times: int = 1, fold: str = ""):
    """Kill (SIGKILL) the Ray worker process running a fold (whose name contains `fold`), `times` times, as soon as
    one is running (Ray names a worker process after the task it runs: 'ray::aimstf MODEL TARGET SPLIT')."""
    while not stop.is_set() and len(killed) < times:
        for p in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if cmd.startswith("ray::aimstf ") and fold in cmd and p.info["pid"] not in [k for k, _ in killed]:
                try:
                    p.kill()
                    killed.append((p.info["pid"], cmd.strip()))
                except psutil.NoSuchProcess:
                    pass
                break
        time.sleep(0.05)


def test_ray_matches_local_and_survives_a_killed_worker(cache, cluster, tmp_path):
    t0 = time.perf_counter()
    run_cv(cache, tmp_path / "local", jobs=2, **GRID)
    t_local = time.perf_counter() - t0
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_one_fold, args=(stop, killed), daemon=True)
    killer.start()
    t0 = time.perf_counter()
    try:
        run_cv(cache, tmp_path / "ray", executor="ray", **GRID)
    finally:
        stop.set(); killer.join()
    t_ray = time.perf_counter() - t0
    print(f"local --jobs 2: {t_local:.1f} s; ray (one worker killed): {t_ray:.1f} s; killed {killed}")
    assert len(killed) == 1, "the test did not manage to kill a Ray worker mid-grid"
    local, remote = (tmp_path / "local" / "results.csv").read_bytes(), (tmp_path / "ray" / "results.csv").read_bytes()
    assert remote == local, "results.csv differs between the local and the Ray executor"
    ex = json.loads((tmp_path / "ray" / "summary.json").read_text())["execution"]
    assert ex["executor"] == "ray" and ex["threads"] == 1 and ex["failed"] == []
    assert len(ex["retried"]) == 1 and ex["retried"][0]["attempt"] == 1, ex["retried"]
    assert "WorkerCrashedError" in ex["retried"][0]["error"] or "died" in ex["retried"][0]["error"].lower(), ex["retried"]
    # the driver wrote every fold's files (the tasks trained in temporary folders on the worker)
    assert len(list((tmp_path / "ray").rglob("checkpoint.pt"))) == 6 and len(list((tmp_path / "ray").rglob("result.json"))) == 6


def test_a_fold_dying_on_every_attempt_is_reported(cache, cluster, tmp_path):
    stop, killed = threading.Event(), []
    fold = "eeg-only valence kfold-trial s01 f1"
    killer = threading.Thread(target=kill_one_fold, args=(stop, killed, 2, fold), daemon=True)
    killer.start()
    grid = dict(GRID, models=["eeg-only"])
    try:
        with pytest.raises(RunError, match=r"1 fold\(s\) failed on every attempt"):
            run_cv(cache, tmp_path / "ray", executor="ray", retries=1, **grid)
    finally:
        stop.set(); killer.join()
    assert len(killed) == 2
    ex = json.loads((tmp_path / "ray" / "summary.json").read_text())["execution"]
    assert [r["task"] for r in ex["retried"]] == [fold, fold] and ex["failed"] == [dict(task=fold, attempts=2)]
    res = (tmp_path / "ray" / "results.csv").read_text().splitlines()
    assert len(res) == 1 + 2, res  # the header and the two folds that trained
    # resuming trains the missing fold only, whichever executor ran the others
    df = run_cv(cache, tmp_path / "ray", resume=True, jobs=1, **grid)
    assert len(df) == 3
