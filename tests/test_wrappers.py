"""The braindecode-style wrappers (aimstf_kit.models.wrappers): skorch trains them on kit data, their logits are the
kit models' logits, and bad signal parameters or unsupported sizes are refused with clear errors."""
import subprocess
import sys

import mne
import numpy as np
import pytest
import torch

from aimstf_kit.core import DEAP_EEG_CHANNELS, PrepareConfig
from aimstf_kit.datasets import open_cache
from aimstf_kit.models import DeepVANet, EEGOnly, TSception, build_model
from aimstf_kit.models.baselines import TSCEPTION_CHANNELS
from aimstf_kit.models.wrappers import (AIMSTFEEG, DeepVANetEEG, TSceptionNet, skorch_classifier,
                                        tsception_min_times)
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap

WRAPPERS = [AIMSTFEEG, TSceptionNet, DeepVANetEEG]
SIZES = dict(n_chans=32, n_outputs=2, n_times=128, sfreq=128)


def chs(names, sfreq=128.0):
    "MNE's info['chs'] for EEG channels `names`."
    return mne.create_info(list(names), sfreq, "eeg")["chs"]


@pytest.fixture(scope="module")
def kit_eeg(tmp_path_factory):
    "EEG samples (N, 32, 128) float32 and valence labels of a small cache prepared from synthetic DEAP."
    root = tmp_path_factory.mktemp("wrappers") / "DEAP"
    synth_deap(root, SynthConfig(subjects=2, trials=4, seconds=2, video_subjects=(), seed=8), progress=False)
    cache = open_cache(prepare("deap", root, root.parent / "cache", PrepareConfig(faces=False), progress=False))
    X, y = cache.eeg[np.arange(len(cache))], cache.labels("valence")
    assert X.shape == (16, 32, 128) and X.dtype == np.float32 and set(y) == {0, 1}
    return X, y


@pytest.mark.parametrize("cls", WRAPPERS)
def test_skorch_trains_one_epoch_and_predicts(cls, kit_eeg):
    from skorch import NeuralNetClassifier
    X, y = kit_eeg
    torch.manual_seed(0)
    module = cls(**SIZES)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=1, batch_size=8, lr=0.05,
                              train_split=None, iterator_train__num_workers=0, iterator_valid__num_workers=0)
    net.fit(X, y)
    assert net.module_ is module and len(net.history) == 1 and np.isfinite(net.history[-1, "train_loss"])
    changed = [k for k, v in module.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert any(k.endswith("weight") for k in changed), "one epoch of training changed no weight"
    proba = net.predict_proba(X)
    assert proba.shape == (16, 2) and np.allclose(proba.sum(1), 1, atol=1e-5) and (proba >= 0).all()
    pred = net.predict(X)
    assert pred.shape == (16,) and set(pred) <= {0, 1}
    np.testing.assert_array_equal(pred, proba.argmax(1))


def test_skorch_classifier_builds_the_module_from_its_class(kit_eeg):
    X, y = kit_eeg
    net = skorch_classifier(AIMSTFEEG, module__n_chans=32, module__n_outputs=2, module__n_times=128,
                            module__sfreq=128, max_epochs=1, batch_size=8).fit(X, y)
    assert isinstance(net.module_, AIMSTFEEG) and isinstance(net.module_.model, EEGOnly)  # a trained kit model
    assert isinstance(net.criterion_, torch.nn.CrossEntropyLoss) and net.predict(X).shape == (16,)


def test_logits_are_the_kit_models_logits():
    "A registered kit model given the wrapper's weights gives the wrapper's logits (strict load: same architecture)."
    torch.manual_seed(1)
    x = torch.randn(5, 32, 128)
    for wrapper, name in ((AIMSTFEEG(**SIZES), "eeg-only"), (TSceptionNet(**SIZES), "tsception")):
        wrapper.eval()
        kit = build_model(name).eval()
        kit.load_state_dict(wrapper.model.state_dict(), strict=True)
        out = wrapper(x)
        assert out.shape == (5, 2)
        torch.testing.assert_close(out, kit(None, x).logits, rtol=0, atol=1e-6)
    dv = DeepVANetEEG(**SIZES).eval()
    both = DeepVANet().eval()
    both.bio.load_state_dict(dv.bio.state_dict(), strict=True)  # the branch is DeepVANet's
    torch.testing.assert_close(dv.bio(x), both.bio(x), rtol=0, atol=1e-6)
    assert dv(x).shape == (5, 2)


def test_tsception_finds_its_electrodes_by_name():
    "Any montage naming the 28 paired electrodes (order, extra channels and case free) gives the kit's logits."
    torch.manual_seed(2)
    kit = TSception().eval()
    x = torch.randn(3, 32, 128)
    names = ["EXG1"] + [c.upper() for c in reversed(TSCEPTION_CHANNELS)] + ["Cz"]
    w = TSceptionNet(n_outputs=2, n_times=128, sfreq=128, chs_info=chs(names)).eval()
    assert w.n_chans == 30 and w.ch_names == names
    w.model.load_state_dict(kit.state_dict())
    order = [DEAP_EEG_CHANNELS.index(c) for c in reversed(TSCEPTION_CHANNELS)]
    xw = torch.cat([torch.randn(3, 1, 128), x[:, order], x[:, [DEAP_EEG_CHANNELS.index("Cz")]]], dim=1)
    torch.testing.assert_close(w(xw), kit(None, x).logits, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"chs_info lacks the paired electrode\(s\) \['O1'\]"):
        TSceptionNet(n_outputs=2, n_times=128, sfreq=128, chs_info=chs([c for c in DEAP_EEG_CHANNELS if c != "O1"]))
    with pytest.raises(ValueError, match="with n_chans=28, give chs_info naming the 28 electrodes"):
        TSceptionNet(n_chans=28, n_outputs=2, n_times=128, sfreq=128)


def test_chs_info_gives_n_chans_and_must_agree():
    w = AIMSTFEEG(n_outputs=2, n_times=128, sfreq=128, chs_info=chs(DEAP_EEG_CHANNELS))
    assert (w.n_chans, w.n_outputs, w.n_times, w.sfreq, w.input_window_seconds) == (32, 2, 128, 128.0, 1.0)
    assert w.ch_names == list(DEAP_EEG_CHANNELS) and w.get_output_shape() == (1, 2) and w.training
    for cls in WRAPPERS:
        with pytest.raises(ValueError, match=f"{cls.__name__}: n_chans=31 but chs_info has 32 channels"):
            cls(n_chans=31, n_outputs=2, n_times=128, sfreq=128, chs_info=chs(DEAP_EEG_CHANNELS))
        with pytest.raises(ValueError, match=r"n_chans is required \(give n_chans or chs_info\)"):
            cls(n_outputs=2, n_times=128, sfreq=128)
        with pytest.raises(ValueError, match=r"chs_info\[1\] must be a dict with a str 'ch_name'"):
            cls(n_outputs=2, n_times=128, sfreq=128, chs_info=[{"ch_name": "Fp1"}, {"name": "AF3"}])
        with pytest.raises(ValueError, match=r"x must be \(batch, n_chans, n_times\) = \(B, 32, 128\), got \(2, 32, 127\)"):
            cls(**SIZES)(torch.randn(2, 32, 127))
    w = AIMSTFEEG(n_chans=32, n_outputs=2, sfreq=256, input_window_seconds=1.0)  # braindecode's third parameter
    assert w.n_times == 256 and w(torch.randn(2, 32, 256)).shape == (2, 2)
    with pytest.raises(ValueError, match="n_times=128 disagrees with sfreq=128"):
        AIMSTFEEG(n_chans=32, n_outputs=2, n_times=128, sfreq=128, input_window_seconds=2)


def test_other_sizes_work_where_the_architecture_allows():
    assert AIMSTFEEG(n_chans=8, n_outputs=3, n_times=64, sfreq=64)(torch.randn(2, 8, 64)).shape == (2, 3)
    assert AIMSTFEEG(n_chans=32, n_outputs=2, n_times=250, sfreq=250, heads=3)(torch.randn(2, 32, 250)).shape == (2, 2)
    assert TSceptionNet(n_chans=32, n_outputs=2, n_times=512, sfreq=256)(torch.randn(2, 32, 512)).shape == (2, 2)
    # TSception's kernels follow sfreq (0.5, 0.25, 0.125 s)
    assert [c.kernel_size[1] for c in TSceptionNet(n_chans=32, n_outputs=2, n_times=512, sfreq=256).model.temporal] == [128, 64, 32]
    assert DeepVANetEEG(n_chans=5, n_outputs=4, n_times=9)(torch.randn(2, 5, 9)).shape == (2, 4)
    assert DeepVANetEEG(n_chans=32, n_outputs=2, n_times=128).sfreq is None  # sfreq is optional there


def test_tsception_shortest_input_is_exact():
    "tsception_min_times is the shortest input the kit's TSception runs on (one sample less breaks it)."
    for fs in (128, 250):
        n = tsception_min_times(fs)
        kit = TSception(fs=fs).eval()
        assert kit(None, torch.randn(2, 32, n)).logits.shape == (2, 2)
        with pytest.raises(RuntimeError):
            kit(None, torch.randn(2, 32, n - 1))
        assert TSceptionNet(n_chans=32, n_outputs=2, n_times=n, sfreq=fs)(torch.randn(2, 32, n)).shape == (2, 2)
        with pytest.raises(ValueError, match=f"n_times={n - 1} is too short at sfreq={fs}: TSception needs at least {n} samples"):
            TSceptionNet(n_chans=32, n_outputs=2, n_times=n - 1, sfreq=fs)


@pytest.mark.parametrize("kw, msg", [
    (dict(n_chans=32, n_outputs=2, n_times=256, sfreq=128), "one-second windows, so n_times must equal sfreq"),
    (dict(n_chans=32, n_outputs=2, n_times=250, sfreq=250),
     r"sfreq=250 gives 267 time steps .* not a multiple of heads=4; the nearest supported sfreq are \[248, 251\]"),
    (dict(n_chans=3, n_outputs=2, n_times=128, sfreq=128), "n_chans must be >= 4"),
    (dict(n_chans=32, n_outputs=2, n_times=128), "AIMSTFEEG: sfreq is required"),
    (dict(n_chans=32, n_outputs=0, n_times=128, sfreq=128), "n_outputs must be a whole number >= 1, got 0"),
])
def test_aimstf_refuses_unsupported_sizes(kw, msg):
    with pytest.raises(ValueError, match=msg):
        AIMSTFEEG(**kw)


def test_other_refusals():
    with pytest.raises(ValueError, match="TSceptionNet: sfreq is required"):
        TSceptionNet(n_chans=32, n_outputs=2, n_times=128)
    with pytest.raises(ValueError, match="sfreq=4 is too low"):
        TSceptionNet(n_chans=32, n_outputs=2, n_times=128, sfreq=4)
    with pytest.raises(ValueError, match=r"DeepVANetEEG: n_times must be >= 9 .*got 8"):
        DeepVANetEEG(n_chans=32, n_outputs=2, n_times=8)
    # the kit models keep their defaults and now say which input they expect
    with pytest.raises(ValueError, match=r"eeg must be \(B, 32, 128\)"):
        EEGOnly()(None, torch.randn(2, 32, 64))
    with pytest.raises(ValueError, match=r"eeg must be \(B, 30, T\)"):
        TSception(channels=list(TSCEPTION_CHANNELS) + ["Fz", "Cz"])(None, torch.randn(2, 32, 128))


def test_the_library_imports_without_skorch():
    code = ("import sys; sys.modules['skorch'] = None\n"
            "from aimstf_kit.models.wrappers import AIMSTFEEG, skorch_classifier\n"
            "assert AIMSTFEEG(n_chans=32, n_outputs=2, n_times=128, sfreq=128) is not None\n"
            "try:\n    skorch_classifier(AIMSTFEEG)\nexcept ImportError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'skorch_classifier needs skorch: pip install "aimstf_kit[interop]"' in r.stdout
