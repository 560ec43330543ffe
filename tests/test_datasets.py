"""The cache reader and the PyTorch dataset on a small synthetic cache."""
import json

import numpy as np
import pytest
import torch

from aimstf_kit.core import PrepareConfig
from aimstf_kit.datasets import CacheError, EmotionDataset, make_loader, open_cache
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "DEAP"
    synth_deap(root, SynthConfig(subjects=2, trials=5, seconds=2, video_subjects=(1,), seed=8), progress=False)
    return open_cache(prepare("deap", root, root.parent / "cache", progress=False))


def test_arrays_are_consistent(cache):
    n = len(cache)
    assert n == 2 * 5 * 2
    for k in ("has_face", "ratings", "subject", "trial", "experiment_id", "segment", "session", "frame", "box"):
        assert len(getattr(cache, k)) == n, k
    assert isinstance(cache.eeg.parts[0], np.memmap)
    assert cache.has_face[cache.subject == 1].all() and not cache.has_face[cache.subject == 2].any()
    assert len(np.unique(cache.trial_id)) == 10


def test_labels_rule(cache):
    v = cache.ratings[:, 0]
    np.testing.assert_array_equal(cache.labels("valence"), (v >= 5).astype(int))
    np.testing.assert_array_equal(cache.labels("arousal", 6.0, ">"), (cache.ratings[:, 1] > 6).astype(int))
    ds = EmotionDataset(cache, modality="eeg", target="arousal", threshold=4.0, rule=">")
    np.testing.assert_array_equal(ds.labels(), (cache.ratings[:, 1] > 4).astype(int))
    with pytest.raises(KeyError, match="not 'joy'"):
        cache.labels("joy")


def test_dataset_batches_match_the_cache(cache):
    ds = EmotionDataset(cache, modality="both", face_dtype="uint8")
    assert len(ds) == 10 and ds.excluded == 10
    b = ds.__getitems__([3, 0, 7])
    idx = b["index"].numpy()
    np.testing.assert_array_equal(b["eeg"].numpy(), cache.eeg[idx])
    np.testing.assert_array_equal(b["face"].permute(0, 1, 3, 4, 2).numpy(), cache.faces[idx])
    item = ds[2]
    assert item["face"].shape == (5, 3, 64, 64) and item["eeg"].shape == (32, 128)


def test_loader_is_reproducible_and_covers_everything(cache):
    ds = EmotionDataset(cache, modality="eeg")
    order = lambda seed: torch.cat([b["index"] for b in make_loader(ds, batch_size=4, seed=seed)]).tolist()
    assert order(1) == order(1) and order(1) != order(2)
    assert sorted(order(1)) == list(range(len(cache)))


def test_augmentation_keeps_range_and_shape(cache):
    ds = EmotionDataset(cache, modality="face", augment=True)
    f = ds.__getitems__(list(range(4)))["face"]
    assert f.shape == (4, 5, 3, 64, 64) and f.dtype == torch.float32 and 0 <= f.min() and f.max() <= 1


def test_refusals(cache, tmp_path):
    eeg_only = open_cache(prepare("deap", cache.manifest["source_root"], tmp_path, PrepareConfig(faces=False), progress=False))
    assert eeg_only.faces is None
    with pytest.raises(ValueError, match="EEG-only cache cannot serve modality 'both'"):
        EmotionDataset(eeg_only, modality="both")
    man = json.loads((eeg_only.path / "manifest.json").read_text())
    man["format"] = 0
    (eeg_only.path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(CacheError, match="cache format 0 .* prepare it again"):
        open_cache(eeg_only.path)
    (cache.path / "s002" / "trial.npy").rename(cache.path / "s002" / "trial.npy.bak")
    try:
        with pytest.raises(CacheError, match="trial.npy: missing"):
            open_cache(cache.path)
    finally:
        (cache.path / "s002" / "trial.npy.bak").rename(cache.path / "s002" / "trial.npy")
