"""DeepVANet as its authors built it, and the public pretrained frame CNN (issue 12).

`load_face_cnn` reads a `pretrained_cnn.pth`-layout state dict (DeepVANet's public file: the frame CNN at
`net.0/3/6`, a head at `classifier.0/3`) into the frame CNN of every face encoder of a model. The file
built here has random tensors with the public keys and shapes."""
import pickle

import pytest
import torch

from aimstf_kit.datasets import make_splits, open_cache
from aimstf_kit.models.aimstf import AIMSTF
from aimstf_kit.models.baselines import DeepVANet, FaceOnly, build_model
from aimstf_kit.models.eeg import n_params
from aimstf_kit.models.face import PRETRAINED_CNN_SHAPES, FaceEncoder, load_face_cnn
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap
from aimstf_kit.train import TrainConfig, fit

HEAD_SHAPES = {"classifier.0.weight": (1000, 4608), "classifier.0.bias": (1000,),
               "classifier.3.weight": (2, 1000), "classifier.3.bias": (2,)}


@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    "A file with the layout of the public pretrained_cnn.pth: random weights, head included."
    g = torch.Generator().manual_seed(1)
    sd = {k: torch.randn(s, generator=g) * 0.1 for k, s in {**PRETRAINED_CNN_SHAPES, **HEAD_SHAPES}.items()}
    path = tmp_path_factory.mktemp("pretrained") / "pretrained_cnn.pth"
    torch.save(sd, path)
    return path, sd


def cnn_of(model) -> dict:
    "The frame CNN's three convolutions under the public positions 0, 3, 6 (BatchNorms, if any, left out)."
    enc = next(m for m in model.modules() if isinstance(m, FaceEncoder))
    convs = [m for m in enc.cnn if isinstance(m, torch.nn.Conv2d)]
    return {f"{p}.{n}": getattr(c, n) for p, c in zip((0, 3, 6), convs) for n in ("weight", "bias")}


def test_deepvanet_parameter_counts():
    test = {1: 1_415_817, 2: 1_415_838}  # the authors' one-unit head; the kit's default two logits
    for c, n in test.items():
        m = DeepVANet(num_classes=c)
        assert n_params(m) == n
        assert m(torch.rand(2, 5, 3, 64, 64), torch.randn(2, 32, 128)).logits.shape == (2, c)
    assert n_params(build_model("deepvanet")) == 1_415_838


@pytest.mark.parametrize("make", [lambda: AIMSTF("reference", n_levels=1),
                                  lambda: FaceEncoder(channel_order="bgr", normalize=None, frame_norm=None),
                                  lambda: FaceEncoder(channel_order="bgr", normalize=None, frame_norm="batch"),
                                  lambda: DeepVANet(channel_order="bgr", face_normalize=None)])
def test_round_trip_when_the_input_convention_matches(cnn_file, make):
    path, sd = cnn_file
    model = load_face_cnn(path, make())
    got = cnn_of(model)
    for k in PRETRAINED_CNN_SHAPES:
        assert torch.equal(got[k[4:]], sd[k]), k


@pytest.mark.parametrize("make", [lambda: AIMSTF("paper", n_levels=1), lambda: DeepVANet(), lambda: FaceOnly(),
                                  lambda: AIMSTF("paper", n_levels=1, frame_norm="batch")])
def test_rgb_standardised_encoders_compute_what_the_public_pipeline_did(cnn_file, make):
    path, sd = cnn_file
    model = load_face_cnn(path, make())
    got = cnn_of(model)
    for k in ("net.3.weight", "net.6.weight", "net.6.bias"):  # only the first convolution is rewritten
        assert torch.equal(got[k[4:]], sd[k])
    verbatim = cnn_of(load_face_cnn(path, make(), match_input=False))
    assert torch.equal(verbatim["0.weight"], sd["net.0.weight"])
    public = torch.nn.Sequential(*FaceEncoder(frame_norm=None).cnn)  # the public CNN: BGR frames in [0, 1]
    public.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("net.")})
    enc = next(m for m in model.modules() if isinstance(m, FaceEncoder))
    x = torch.rand(6, 3, 64, 64)  # the kit's RGB frames
    u = ((x - enc.mean) / enc.std)  # what this encoder's CNN is given (RGB, standardised)
    torch.testing.assert_close(enc.cnn[0](u), public[0](x.flip(1)), atol=1e-5, rtol=1e-4)  # the rewritten conv
    if enc.frame_norm is None:  # without BatchNorms in between, the whole CNN computes the public function
        torch.testing.assert_close(enc.cnn(u), public(x.flip(1)), atol=1e-5, rtol=1e-4)


def test_other_layouts_are_refused(cnn_file, tmp_path):
    path, sd = cnn_file
    aimstf_keys = {"face_feature_extractor.cnn.0.weight": torch.zeros(32, 3, 3, 3)}
    torch.save(aimstf_keys, tmp_path / "aimstf.pth")
    with pytest.raises(ValueError, match=r"aimstf\.pth.*missing \['net\.0\.weight'.*unexpected "
                                         r"\['face_feature_extractor\.cnn\.0\.weight'\].*net\.0\.weight \(32, 3, 3, 3\)"):
        load_face_cnn(tmp_path / "aimstf.pth", FaceEncoder())
    wrong = dict(sd, **{"net.3.weight": torch.zeros(64, 32, 5, 5)})
    with pytest.raises(ValueError, match=r"wrong shape \['net\.3\.weight \(64, 32, 5, 5\)'\]"):
        load_face_cnn(wrong, FaceEncoder())
    torch.save(FaceEncoder().cnn, tmp_path / "module.pth")  # a pickled module, not a state dict
    with pytest.raises(ValueError, match=r"cannot read '.*module\.pth' as a weights-only state dict"):
        load_face_cnn(tmp_path / "module.pth", FaceEncoder())
    (tmp_path / "junk.pth").write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="junk.pth"):
        load_face_cnn(tmp_path / "junk.pth", FaceEncoder())
    with pytest.raises(ValueError, match="has no FaceEncoder"):
        load_face_cnn(sd, torch.nn.Linear(2, 2))
    before = cnn_of(FaceEncoder())  # a refused file leaves the model as it was
    enc = FaceEncoder(); enc.cnn.load_state_dict(before)
    with pytest.raises(ValueError):
        load_face_cnn(wrong, enc)
    assert all(torch.equal(v, enc.cnn.state_dict()[k]) for k, v in before.items())



@pytest.fixture(scope="module")
def bimodal_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("dv")
    synth_deap(root / "DEAP", SynthConfig(subjects=1, trials=6, seconds=2, seed=3), progress=False)
    return open_cache(prepare("deap", root / "DEAP", root / "cache", progress=False))


@pytest.mark.parametrize("num_classes", [2, 1])
def test_deepvanet_trains_through_fit(bimodal_cache, num_classes):
    "The registry's default (two logits, cross-entropy) and the authors' one logit (BCE-with-logits)."
    c = bimodal_cache
    split = next(make_splits("kfold-trial", c.subject, c.trial, n_folds=3))
    cfg = TrainConfig(model="deepvanet", epochs=1, batch_size=4, lr=1e-3, seed=0)
    r = fit(c, split, cfg, progress=False, model_kwargs=dict(num_classes=num_classes))
    assert r["n_test"] > 0 and r["epochs_run"] == 1
    assert torch.isfinite(torch.tensor(r["history"][0]["train_loss"]))
    assert 0 <= r["test_accuracy"] <= 1 and sum(map(sum, r["test_confusion"])) == r["n_test"]
