"""Interpretability end to end.

Fast: `aimstf explain` on a tiny run writes every figure and refuses bad requests.
Slow (`pytest --runslow`; 152 min on 2 cores shared with benchmarks, output in benchmarks/results/interpret_planted.md): after training AIMSTF on synthetic data whose valence
is in the frontal alpha asymmetry (EEG) and the mouth (face), the EEG attribution ranks the frontal
asymmetry electrodes in its top quartile and the face attribution puts most of its mass in the lower
half of the crop.
"""
import json
import subprocess

import numpy as np
import pytest

from conftest import aimstf_cmd

FRONTAL_PAIRS = ("Fp1", "AF3", "F3", "F7", "FC5", "Fp2", "AF4", "F4", "F8", "FC6")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from aimstf_kit.experiments import synthetic_cv
    from aimstf_kit.train import TrainConfig
    out = tmp_path_factory.mktemp("xrun")
    synthetic_cv(out, signal="both", models=["aimstf"], trials=5, seconds=2, train=TrainConfig(epochs=1, batch_size=8),
                 progress=False, model_kwargs={"aimstf": dict(n_levels=2)})
    return out / "run"


def test_explain_command_writes_every_figure(tiny_run, tmp_path):
    r = subprocess.run(aimstf_cmd() + ["explain", str(tiny_run), "--subject", "1", "--segment", "4", "--ig-steps", "4",
                                       "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path / "x" / "explanation.json").read_text())
    assert info["subject"] == 1 and info["index"] == 4 and "predicted" in r.stdout
    for stem in ("eeg_integrated_gradients", "eeg_saliency", "eeg_attention", "eeg_squeeze_excitation", "levels",
                 "fusion_weights", "face"):
        for ext in ("png", "pdf"):
            assert (tmp_path / "x" / f"{stem}.{ext}").stat().st_size > 1000, (stem, ext)


def test_explain_command_refuses_bad_requests(tiny_run, tmp_path):
    def refused(*args, match):
        r = subprocess.run(aimstf_cmd() + ["explain", *map(str, args), "--out", str(tmp_path / "y")],
                           capture_output=True, text=True)
        assert r.returncode == 2 and match in r.stderr, r.stderr
    refused(tiny_run, "--subject", "3", "--segment", "0", match="subject 3 is not in the cache")
    refused(tiny_run, "--subject", "1", "--segment", "99", match="segment must be in 0..9")
    refused(tiny_run, "--subject", "1", "--segment", "0", "--model", "deepvanet", match="the run has models")
    refused(tmp_path, "--subject", "1", "--segment", "0", match="not a run folder")
    assert not (tmp_path / "y").exists()


@pytest.mark.slow
def test_attributions_find_the_planted_cues(tmp_path):
    """The configuration of `benchmarks/bench_learning.py --only complementary` (AIMSTF on 40 trials x 20 s,
    5 folds, 20 epochs; 152 min on 2 shared cores), then Integrated Gradients on every 4th test sample of each fold,
    each explained by the fold model that held it out."""
    import torch
    from aimstf_kit.core import DEAP_EEG_CHANNELS
    from aimstf_kit.cache import open_cache
    from aimstf_kit.experiments import synthetic_cv
    from aimstf_kit.interpret import _batch, explain, load_fold, lower_half_share
    from aimstf_kit.runs import Run
    from aimstf_kit.train import TrainConfig
    torch.set_num_threads(2)
    cfg = TrainConfig(epochs=20, patience=20, batch_size=32, lr=1e-3, schedule="cosine", eeg_augment="spectral")
    df = synthetic_cv(tmp_path, signal="complementary", models=["aimstf"], trials=40, seconds=20, strength=1.5,
                      train=cfg, progress=False)
    assert df.test_accuracy.mean() > 0.85, df.test_accuracy.tolist()
    spec = json.loads((tmp_path / "run" / "run.json").read_text())["spec"]
    cache = open_cache(spec["cache"])
    eeg_imp, face_share = [], []
    for split in Run(tmp_path / "run").splits_for("valence"):  # the splits the run trained with (stratified)
        fold = load_fold(tmp_path / "run", int(split.test[0]))  # the model that held these trials out
        b, _ = _batch(cache, split.test[::4], "valence", "both")
        ex = explain(fold.model, b, face_methods=["integrated_gradients"], eeg_methods=["integrated_gradients"], ig_steps=16)
        eeg_imp.append(ex.eeg_importance["integrated_gradients"].mean(0))
        face_share.append(lower_half_share(ex.face_attribution["integrated_gradients"]).mean())
    imp = np.mean(eeg_imp, 0)
    top = [DEAP_EEG_CHANNELS[i] for i in np.argsort(-imp)[:8]]  # the top quartile of 32 electrodes
    print("test accuracy per fold:", df.test_accuracy.round(3).tolist())
    print("top quartile:", top, "face mass in the lower half:", np.round(face_share, 3))
    assert sum(c in FRONTAL_PAIRS for c in top) >= 6, top
    assert np.mean(face_share) > 0.5, face_share


@pytest.fixture(scope="module")
def small_model_batch():
    import torch
    from aimstf_kit.models.aimstf import AIMSTF
    torch.manual_seed(0)
    m = AIMSTF("paper", n_levels=2)
    b = dict(face=torch.rand(5, 5, 3, 64, 64), eeg=torch.randn(5, 32, 128) * 10, label=torch.tensor([0, 1, 0, 1, 1]))
    return m, b


def test_explain_and_every_plot_emit_no_warning(small_model_batch):
    """No Captum 'did not already require gradients', no 'Mean of empty slice' (a class with no sample, the NaN
    above the level diagonal), nothing from MNE or seaborn: explain + every plot, also for a one-class subset."""
    import warnings
    from matplotlib.figure import Figure
    from aimstf_kit.interpret import (explain, plot_eeg_importance, plot_face_attribution, plot_fusion_weights,
                                      plot_levels)
    m, b = small_model_batch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ex = explain(m, b, ig_steps=2, occlusion_window=32, occlusion_stride=32)
        one_class = ex.subset(ex.label == 1)
        figs = [plot_eeg_importance(e, k) for e in (ex, one_class) for k in e.eeg_importance]
        figs += [f(e) for e in (ex, one_class) for f in (plot_levels, plot_fusion_weights)]
        figs.append(plot_face_attribution(ex, b["face"], 1))
        pngs = [f._repr_png_() for f in figs]
    assert not caught, [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    assert all(isinstance(f, Figure) for f in figs) and all(p[:4] == b"\x89PNG" and len(p) > 5000 for p in pngs)


def test_figures_do_not_touch_pyplot(small_model_batch):
    "Figures are `Figure` objects outside pyplot's global state (pyplot is not thread-safe under widget comms)."
    import matplotlib.pyplot as plt
    from aimstf_kit.interpret import explain, plot_face_attribution, plot_levels
    m, b = small_model_batch
    plt.close("all")
    ex = explain(m, b, ig_steps=2, eeg_methods=["attention"], face_methods=["gradcam"])
    plot_levels(ex), plot_face_attribution(ex, b["face"])
    assert plt.get_fignums() == []


def test_internal_batch_size_does_not_change_the_numbers(small_model_batch):
    "Every attribution and weight with the model fed 3 inputs at a time equals the all-at-once result."
    from aimstf_kit.interpret import explain
    m, b = small_model_batch
    kw = dict(ig_steps=4, occlusion_window=32, occlusion_stride=32)  # 20 occlusions per sample
    whole = explain(m, b, internal_batch_size=None, **kw)
    small = explain(m, b, internal_batch_size=3, **kw)
    np.testing.assert_allclose(small.prob, whole.prob, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(small.pred, whole.pred)
    np.testing.assert_allclose(small.eeg_attribution, whole.eeg_attribution, rtol=1e-3, atol=1e-5)
    for d_small, d_whole in ((small.eeg_importance, whole.eeg_importance),
                             (small.face_attribution, whole.face_attribution)):
        assert sorted(d_small) == sorted(d_whole)
        for k in d_whole:
            np.testing.assert_allclose(d_small[k], d_whole[k], rtol=1e-3, atol=1e-5, err_msg=k)
    for k in ("level_weights", "gate", "fusion_weights"):
        np.testing.assert_allclose(getattr(small, k), getattr(whole, k), rtol=1e-4, atol=1e-6, err_msg=k)


def test_internal_batch_size_bounds_what_the_model_sees(small_model_batch):
    """A forward hook records the largest batch the model is called with: never above `internal_batch_size`
    (the old behaviour, None, feeds it samples x steps at once: the hook sees that, so the check can fail)."""
    from aimstf_kit.interpret import explain
    m, b = small_model_batch
    seen = []
    h = m.register_forward_pre_hook(lambda mod, args: seen.append(max(len(a) for a in args if a is not None)))
    try:
        kw = dict(ig_steps=8, face_methods=["integrated_gradients", "occlusion"], occlusion_window=32,
                  occlusion_stride=32)
        explain(m, b, internal_batch_size=None, **kw)
        assert max(seen) >= 5 * 8  # every sample x every step at once
        seen.clear()
        explain(m, b, internal_batch_size=4, **kw)
        assert 0 < max(seen) <= 4, max(seen)
    finally:
        h.remove()
    with pytest.raises(ValueError, match="internal_batch_size must be"):
        explain(m, b, internal_batch_size=0)
