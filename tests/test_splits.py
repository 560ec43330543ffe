"""Property tests of the evaluation protocols: leakage-free by construction, every sample tested once."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from aimstf_kit.datasets import LeakageError, check_no_leakage, leakage, make_splits


@st.composite
def samples(draw, min_subjects=1, min_trials=5):
    "Random sample identities: subjects with varying trial counts and seconds per trial, shuffled order."
    n_sub = draw(st.integers(min_subjects, 4))
    subject, trial = [], []
    for s in draw(st.lists(st.integers(1, 40), min_size=n_sub, max_size=n_sub, unique=True)):
        n_tr = draw(st.integers(min_trials, 12))
        trials = draw(st.lists(st.integers(1, 60), min_size=n_tr, max_size=n_tr, unique=True))
        for t in trials:
            k = draw(st.integers(1, 4))
            subject += [s] * k
            trial += [t] * k
    perm = np.random.default_rng(draw(st.integers(0, 99))).permutation(len(subject))
    return np.array(subject)[perm], np.array(trial)[perm]


common = settings(max_examples=60, deadline=None)


@common
@given(samples(), st.integers(2, 5), st.floats(0.0, 0.4), st.integers(0, 1000))
def test_kfold_trial(ids, n_folds, val_fraction, seed):
    subject, trial = ids
    splits = list(make_splits("kfold-trial", subject, trial, n_folds=n_folds, val_fraction=val_fraction, seed=seed))
    assert len(splits) == n_folds * len(np.unique(subject))
    for sp in splits:
        check_no_leakage(sp, subject, trial)
        assert len(sp.train) > 0 and len(sp.test) > 0
        assert len(np.intersect1d(sp.val, sp.test)) == 0
        assert (subject[np.concatenate([sp.train, sp.val, sp.test])] == sp.subject).all()
        # train + val + test cover the subject's samples exactly
        assert sorted(np.concatenate([sp.train, sp.val, sp.test])) == sorted(np.flatnonzero(subject == sp.subject))
    tested = np.concatenate([sp.test for sp in splits])
    assert sorted(tested) == list(range(len(subject)))  # every sample tested exactly once


@common
@given(samples(), st.floats(0.0, 0.4), st.integers(0, 1000))
def test_cross_trial(ids, val_fraction, seed):
    subject, trial = ids
    for sp in make_splits("cross-trial", subject, trial, val_fraction=val_fraction, seed=seed):
        check_no_leakage(sp, subject, trial)
        # every training trial was presented before every test trial
        assert trial[np.concatenate([sp.train, sp.val])].max() < trial[sp.test].min()


@common
@given(samples(min_subjects=2), st.floats(0.0, 0.4), st.integers(0, 1000))
def test_loso(ids, val_fraction, seed):
    subject, trial = ids
    splits = list(make_splits("loso", subject, trial, val_fraction=val_fraction, seed=seed))
    assert sorted(sp.subject for sp in splits) == sorted(np.unique(subject))
    for sp in splits:
        check_no_leakage(sp, subject, trial)
        assert set(subject[sp.test]) == {sp.subject}
        assert sp.subject not in set(subject[np.concatenate([sp.train, sp.val])])
    assert sorted(np.concatenate([sp.test for sp in splits])) == list(range(len(subject)))


@common
@given(samples(), st.integers(0, 1000))
def test_kfold_segment_is_flagged_and_detected(ids, seed):
    subject, trial = ids
    splits = list(make_splits("kfold-segment", subject, trial, seed=seed))
    assert all(sp.leaky for sp in splits)
    assert sorted(np.concatenate([sp.test for sp in splits])) == list(range(len(subject)))
    for sp in splits:
        assert len(np.intersect1d(sp.val, sp.test)) == 0 and len(np.intersect1d(sp.train, sp.test)) == 0
    # with several seconds per trial, some trial lands on both sides and the check says so
    if any(leakage(sp, subject, trial)["trials train&test"] for sp in splits):
        with pytest.raises(LeakageError, match="leaks by design"):
            for sp in splits:
                check_no_leakage(sp, subject, trial)


def test_check_no_leakage_catches_a_shared_trial():
    subject = np.array([1, 1, 1, 1])
    trial = np.array([1, 1, 2, 2])
    sp = next(make_splits("cross-trial", subject, trial, val_fraction=0))
    check_no_leakage(sp, subject, trial)
    sp.train = np.array([0]); sp.test = np.array([1, 2, 3])  # seconds of trial 1 on both sides
    with pytest.raises(LeakageError, match="trials train&test"):
        check_no_leakage(sp, subject, trial)


def test_same_seed_same_splits_and_bad_arguments():
    subject, trial = np.repeat([1, 2], 20), np.tile(np.repeat(np.arange(1, 11), 2), 2)
    a = [s.test.tolist() for s in make_splits("kfold-trial", subject, trial, seed=3)]
    b = [s.test.tolist() for s in make_splits("kfold-trial", subject, trial, seed=3)]
    c = [s.test.tolist() for s in make_splits("kfold-trial", subject, trial, seed=4)]
    assert a == b and a != c
    with pytest.raises(ValueError, match="protocol must be one of"):
        list(make_splits("holdout", subject, trial))
    with pytest.raises(ValueError, match="fewer than n_folds"):
        list(make_splits("kfold-trial", subject, trial, n_folds=11))
    with pytest.raises(ValueError, match="loso needs at least 2 subjects"):
        list(make_splits("loso", subject[:20], trial[:20]))
