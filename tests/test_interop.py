"""MNE Epochs in and out of kit caches (issue 14, build 2): `to_epochs` / `from_epochs` round-trip a cache's EEG
bit for bit, channels are picked by name, other rates are resampled, metadata is checked, and the cache
`from_epochs` writes is an ordinary cache that `open_cache` and `run_cv` take."""
import numpy as np
import pandas as pd
import pytest

mne = pytest.importorskip("mne")

from aimstf_kit.cache import cache_report, open_cache
from aimstf_kit.core import EEG_CHANNELS, PrepareConfig
from aimstf_kit.experiments import run_cv
from aimstf_kit.interop import ID_COLUMNS, VOLTS_PER_CACHE_UNIT, from_epochs, to_epochs
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap
from aimstf_kit.train import TrainConfig

RATINGS = ["valence", "arousal", "dominance", "liking"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    "An EEG-only synthetic DEAP cache: 2 subjects x 4 trials x 3 s."
    tmp = tmp_path_factory.mktemp("interop")
    synth_deap(tmp / "DEAP", SynthConfig(subjects=2, trials=4, seconds=3, video=False, seed=3), progress=False)
    return open_cache(prepare("deap", tmp / "DEAP", tmp / "cache", PrepareConfig(faces=False), progress=False))


def epochs_of(data, names, sfreq, meta):
    ep = mne.EpochsArray(data, mne.create_info(list(names), float(sfreq), "eeg"), verbose=False)
    ep.metadata = pd.DataFrame(meta)
    return ep


def meta(n, subject=5, **kw):
    d = dict(subject=[subject] * n, trial=list(range(1, n + 1)), valence=[7.0] * n, arousal=[3.0] * n,
             dominance=[5.0] * n, liking=[5.0] * n)
    d.update(kw)
    return d


def test_to_epochs(cache):
    ep = to_epochs(cache, 2)
    own = np.flatnonzero(cache.subject == 2)
    assert len(ep) == len(own) and ep.ch_names == list(EEG_CHANNELS) and ep.info["sfreq"] == 128.0
    assert ep.get_montage() is not None and len(ep.get_montage().ch_names) == 32
    assert list(ep.metadata.columns) == list(ID_COLUMNS) + RATINGS
    np.testing.assert_allclose(ep.get_data(), cache.eeg[own].astype(np.float64) * 1e-6, rtol=1e-12)  # volts
    assert VOLTS_PER_CACHE_UNIT == 1e-6
    md = ep.metadata
    assert (md.subject == 2).all() and np.array_equal(md.trial, cache.trial[own])
    assert np.array_equal(md.second, cache.segment[own]) and np.array_equal(md.experiment_id, cache.experiment_id[own])
    assert np.array_equal(md[RATINGS].to_numpy(np.float32), cache.ratings[own])
    with pytest.raises(ValueError, match="subject 9 is not in the cache"):
        to_epochs(cache, 9)
    assert len(to_epochs(cache.path, 1)) == int((cache.subject == 1).sum())  # a folder works too


def test_round_trip_is_exact(cache, tmp_path):
    back = open_cache(from_epochs([to_epochs(cache, s) for s in cache.subjects], tmp_path))
    a, b = np.asarray(cache.eeg[:]), np.asarray(back.eeg[:])
    assert b.dtype == np.float32 and np.array_equal(a.view(np.uint32), b.view(np.uint32))  # bit for bit
    for k in ("subject", "trial", "segment", "experiment_id", "session", "ratings"):
        assert np.array_equal(getattr(back, k), getattr(cache, k)), k
    assert back.rating_names == cache.rating_names and back.dataset == "deap"
    assert back.faces is None and not back.has_face.any() and (back.frame == -1).all()
    assert back.manifest["complete"] and back.manifest["source"].startswith("mne.Epochs")
    rep = cache_report(back.path)
    assert (rep["subjects"], rep["samples"], rep["eeg_only_subjects"]) == (2, len(cache), 2)


def test_channels_picked_by_name(cache, tmp_path):
    ep = to_epochs(cache, 1)
    x = ep.get_data()
    order = np.random.default_rng(0).permutation(32)
    names = [EEG_CHANNELS[i].upper() if i % 2 else EEG_CHANNELS[i].lower() for i in order] + ["EOG1", "Status"]
    data = np.concatenate([x[:, order], np.ones((len(ep), 2, x.shape[-1]))], axis=1)
    mixed = epochs_of(data, names, 128, ep.metadata)
    back = open_cache(from_epochs(mixed, tmp_path))
    own = np.flatnonzero(cache.subject == 1)
    assert np.array_equal(back.eeg[:], cache.eeg[own])  # reordered to the kit's order, extras left out

    short = epochs_of(x[:, 3:], list(EEG_CHANNELS[3:]), 128, ep.metadata)
    with pytest.raises(ValueError, match=r"3 of DEAP's 32 EEG channels are missing: \['Fp1', 'AF3', 'F3'\]"):
        from_epochs(short, tmp_path / "short")
    twice = epochs_of(np.concatenate([x, x[:, :1]], axis=1), list(EEG_CHANNELS) + ["FP1"], 128, ep.metadata)
    with pytest.raises(ValueError, match="differ only by case"):
        from_epochs(twice, tmp_path / "twice")


def test_resampled_and_cut_into_seconds(tmp_path):
    "Epochs of 2.5 s at 256 Hz give 2 one-second 128-Hz samples each (seconds 4 and 5 of their trial); 0.5 s is dropped."
    t = np.arange(640) / 256.0
    sine = 20e-6 * np.sin(2 * np.pi * 10 * t)  # 10 Hz, 20 µV
    data = np.tile(sine, (3, 32, 1)) * np.arange(1, 33)[None, :, None]
    ep = epochs_of(data, EEG_CHANNELS, 256, meta(3, second=[4, 4, 4]))
    c = open_cache(from_epochs(ep, tmp_path))
    assert len(c) == 6 and c.eeg.shape[1:] == (32, 128)
    assert c.trial.tolist() == [1, 1, 2, 2, 3, 3] and c.segment.tolist() == [4, 5] * 3
    t128 = np.arange(256) / 128.0
    want = 20 * np.sin(2 * np.pi * 10 * t128)  # microvolts at 128 Hz
    got = np.asarray(c.eeg[:2])[:, 5].reshape(-1) / 6  # channel 6 carries 6 x the sine
    np.testing.assert_allclose(got[32:-32], want[32:-32], atol=0.5)  # away from the epoch's edges
    entry = c.manifest["subjects"]["5"]
    assert any("resampled 256 -> 128 Hz" in s for s in entry["eeg_steps"])
    assert any("last 64 of each epoch's 320 time points" in why for _, why in entry["skipped"])
    with pytest.raises(ValueError, match="shorter than one sample"):
        from_epochs(epochs_of(data[:, :, :200], EEG_CHANNELS, 256, meta(3)), tmp_path / "short")


def test_metadata_is_checked(tmp_path):
    x = np.zeros((2, 32, 128))
    bare = mne.EpochsArray(x, mne.create_info(list(EEG_CHANNELS), 128.0, "eeg"), verbose=False)
    with pytest.raises(ValueError, match="has no metadata"):
        from_epochs(bare, tmp_path)
    m = meta(2)
    del m["trial"], m["liking"]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['trial', 'liking'\]"):
        from_epochs(epochs_of(x, EEG_CHANNELS, 128, m), tmp_path)
    with pytest.raises(ValueError, match=r"missing values in column\(s\) \['arousal'\]"):
        from_epochs(epochs_of(x, EEG_CHANNELS, 128, meta(2, arousal=[1.0, np.nan])), tmp_path)
    with pytest.raises(ValueError, match="whole numbers"):
        from_epochs(epochs_of(x, EEG_CHANNELS, 128, meta(2, trial=[1.5, 2])), tmp_path)
    with pytest.raises(ValueError, match=r"several samples at \(trial, second\) \[\[1, 0\]\]"):
        from_epochs(epochs_of(x, EEG_CHANNELS, 128, meta(2, trial=[1, 1])), tmp_path)
    assert not list(tmp_path.iterdir())  # every check runs before anything is written
    c = open_cache(from_epochs(epochs_of(x, EEG_CHANNELS, 128, meta(2, trial=[1, 1], second=[0, 1], mood=[1, 2])),
                               tmp_path, ratings=["valence", "arousal"]))
    assert c.rating_names == ["valence", "arousal"] and c.ratings.shape == (2, 2)
    assert c.segment.tolist() == [0, 1] and c.experiment_id.tolist() == [1, 1] and (c.session == -1).all()


def test_existing_cache_is_not_overwritten(cache, tmp_path):
    ep = to_epochs(cache, 1)
    cdir = from_epochs(ep, tmp_path)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        from_epochs(ep, tmp_path)
    ep2 = ep.copy()
    ep2.metadata = ep.metadata.assign(subject=7)
    assert from_epochs(ep2, tmp_path, overwrite=True) == cdir and open_cache(cdir).subjects == [7]
    with pytest.raises(FileExistsError, match="holds a cache prepared by `prepare`"):
        from_epochs(ep, cache.path.parent, cfg=PrepareConfig(faces=False))


def test_run_cv_on_a_cache_from_epochs(cache, tmp_path):
    cdir = from_epochs([to_epochs(cache, s) for s in cache.subjects], tmp_path / "cache")
    df = run_cv(cdir, tmp_path / "run", "kfold-trial", models=["tsception"], n_folds=2, progress=False,
                train=TrainConfig(epochs=1, batch_size=8, patience=1), device="cpu", threads=1)
    assert len(df) == 2 * 2 and set(df.model) == {"tsception"} and df.test_accuracy.between(0, 1).all()
