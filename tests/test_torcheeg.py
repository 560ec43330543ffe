"""torcheeg datasets into kit caches (issue 14, build 3): torcheeg's own `DEAPDataset` over a synthetic DEAP tree
gives the samples the kit's preparation gives, and `from_torcheeg` turns it into a cache equal to `prepare`'s.

torcheeg is optional. Without it these tests are skipped, except under CI (CI=true), where they fail: install it
with `bash benchmarks/torcheeg_setup.sh --env` (torcheeg 1.1.3 and its pinned dependencies, with --no-deps)."""
import os

import numpy as np
import pytest

from aimstf_kit.cache import open_cache
from aimstf_kit.core import PrepareConfig
from aimstf_kit.interop import from_torcheeg
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap

try:
    from torcheeg import transforms
    from torcheeg.datasets import DEAPDataset
except ImportError as e:
    DEAPDataset, WHY = None, str(e)

RATINGS = ["valence", "arousal", "dominance", "liking"]
SUBJECTS, TRIALS, SECONDS = 2, 3, 4


@pytest.fixture(scope="module", autouse=True)
def need_torcheeg():
    if DEAPDataset is None:
        msg = (f"torcheeg is not importable ({WHY}): install it into this environment with "
               "`bash benchmarks/torcheeg_setup.sh --env` (torcheeg 1.1.3 and its pinned dependencies, --no-deps)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("torcheeg") / "DEAP"
    synth_deap(root, SynthConfig(subjects=SUBJECTS, trials=TRIALS, seconds=SECONDS, video=False, seed=11), progress=False)
    return root


@pytest.fixture(scope="module")
def kit(tree, tmp_path_factory):
    "The kit's own preparation (EEG only; DEAP's defaults: mean of the 3 baseline seconds subtracted)."
    return open_cache(prepare("deap", tree, tmp_path_factory.mktemp("kit"), PrepareConfig(faces=False), progress=False))


@pytest.fixture(scope="module")
def tg(tree, tmp_path_factory):
    "torcheeg's DEAP preparation: 1-s chunks minus the mean of the 3 baseline seconds (its io cache in a temporary folder)."
    return DEAPDataset(root_path=str(tree / "data_preprocessed_python"), chunk_size=128, baseline_chunk_size=128,
                       num_baseline=3, offline_transform=transforms.BaselineRemoval(), online_transform=None,
                       label_transform=None, io_path=str(tmp_path_factory.mktemp("tg") / "io"), num_worker=0, verbose=False)


def kit_order(c) -> np.ndarray:
    "Cache rows sorted by subject, video (experiment_id) and second: the order both sides can agree on."
    return np.lexsort((c.segment, c.experiment_id, c.subject))


def test_torcheeg_samples_equal_the_kits(kit, tg):
    assert len(tg) == len(kit) == SUBJECTS * TRIALS * SECONDS
    got = {}
    for i in range(len(tg)):
        x, info = tg[i]
        key = (int(info["subject_id"][1:3]), info["trial_id"] + 1, (info["start_at"] - 384) // 128)
        got[key] = (np.asarray(x), [info[r] for r in RATINGS])
    for j in range(len(kit)):
        x, rat = got.pop((int(kit.subject[j]), int(kit.experiment_id[j]), int(kit.segment[j])))
        np.testing.assert_allclose(x, kit.eeg[j], rtol=0, atol=1e-4)  # microvolts (up to ~60), float32 against float64
        np.testing.assert_allclose(rat, kit.ratings[j], rtol=1e-6)
    assert not got  # no sample torcheeg has and the kit lacks


def test_from_torcheeg_gives_the_kits_cache(kit, tg, tmp_path):
    c = open_cache(from_torcheeg(tg, tmp_path, cfg=PrepareConfig(faces=False)))
    k, o = kit_order(kit), kit_order(c)
    assert len(c) == len(kit) and c.subjects == kit.subjects and c.faces is None
    np.testing.assert_allclose(np.asarray(c.eeg[:])[o], np.asarray(kit.eeg[:])[k], rtol=0, atol=1e-4)
    for name in ("subject", "experiment_id", "segment", "session"):
        assert np.array_equal(getattr(c, name)[o], getattr(kit, name)[k]), name
    np.testing.assert_allclose(c.ratings[o], kit.ratings[k], rtol=1e-6)
    assert c.rating_names == RATINGS and np.array_equal(c.trial, c.experiment_id)  # torcheeg has no presentation order
    pairs = set(zip(c.subject[o] * 1000 + c.trial[o], kit.subject[k] * 1000 + kit.trial[k]))
    assert len(pairs) == SUBJECTS * TRIALS == len({p for p, _ in pairs}) == len({q for _, q in pairs})  # same trials
    assert c.manifest["source"].startswith("torcheeg DEAPDataset") and c.manifest["complete"]


class Relabelled:
    "A torcheeg dataset whose label is no longer the info dict (as with a label_transform): info via read_info."
    def __init__(self, ds, drop=()):
        self.ds, self.drop = ds, drop

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i][0], 0

    def read_info(self, i):
        return {k: v for k, v in self.ds.read_info(i).items() if k not in self.drop}


def test_info_through_read_info_and_clear_errors(kit, tg, tmp_path):
    c = open_cache(from_torcheeg(Relabelled(tg), tmp_path / "a"))
    assert len(c) == len(kit) and sorted(c.subjects) == kit.subjects
    with pytest.raises(ValueError, match=r"its info lacks \['arousal'\]"):
        from_torcheeg(Relabelled(tg, drop=("arousal",)), tmp_path / "b")
