"""The "paper" variant's fixes, the switches, the baselines and the loss properties."""
import pytest
import torch

from aimstf_kit.losses import AIMSTFLoss, cmd, cmd_reference
from aimstf_kit.models.aimstf import AIMSTF
from aimstf_kit.models.baselines import MODELS, build_model


@pytest.fixture(autouse=True)
def _seeded():
    "Each test's model weights are drawn from a fixed seed: a check with a tolerance must not pass or fail by chance."
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 5, 3, 64, 64, generator=g), torch.randn(6, 32, 128, generator=g)


def test_paper_outputs_do_not_depend_on_the_batch(batch):
    face, eeg = batch
    m = AIMSTF("paper").eval()
    with torch.no_grad():
        full = m(face, eeg)
        for i in range(6):
            one = m(face[i:i + 1], eeg[i:i + 1])
            for a, b in zip(one, full):
                torch.testing.assert_close(a, b[i:i + 1], atol=1e-6, rtol=1e-5)
        perm = torch.tensor([3, 1, 5, 0, 2, 4])
        torch.testing.assert_close(m(face[perm], eeg[perm]).logits, full.logits[perm], atol=1e-6, rtol=1e-5)


def test_reference_outputs_do_depend_on_the_batch(batch):
    face, eeg = batch
    m = AIMSTF("reference").eval()
    with torch.no_grad():
        assert (m(face[:1], eeg[:1]).sp_eeg - m(face, eeg).sp_eeg[:1]).abs().max() > 1e-5


def test_fusion_weights(batch):
    face, eeg = batch
    with torch.no_grad():
        _, ip = AIMSTF("paper").eval()(face, eeg, return_internals=True)
        _, ir = AIMSTF("reference").eval()(face, eeg, return_internals=True)
    w = ip["fusion_weights"]
    assert (w.max(0).values - w.min(0).values).min() > 1e-5  # every part's weight varies between samples
    torch.testing.assert_close(w.sum(1), torch.ones(6))
    assert torch.equal(ir["fusion_weights"], torch.full((6, 3), 1 / 3))


def test_switches_one_at_a_time(batch):
    face, eeg = batch
    m = AIMSTF("reference", attention_over="electrodes").eval()
    with torch.no_grad():
        torch.testing.assert_close(m(face[:1], eeg[:1]).logits, m(face, eeg).logits[:1], atol=1e-6, rtol=1e-5)
    assert AIMSTF("paper", scores="shared").fusion.score_out.out_features == 1
    rgb, bgr = AIMSTF("paper", face_normalize=None).eval(), AIMSTF("paper", channel_order="bgr", face_normalize=None).eval()
    bgr.load_state_dict(rgb.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(bgr(face, eeg).logits, rgb(face.flip(2), eeg).logits)
    assert AIMSTF("paper").default_loss().cmd_kind == "paper"
    relu = AIMSTF("paper", head_activation="relu")
    assert relu.config["head_activation"] == "relu"
    with pytest.raises(TypeError, match="unknown switch"):
        AIMSTF("paper", bgr=True)
    with pytest.raises(ValueError, match="variant must be"):
        AIMSTF("public")


def test_cmd_properties():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2048, 16, generator=g)
    assert cmd(x, x).item() == 0.0
    y = torch.randn(2048, 16, generator=g)
    base = cmd(x, y).item()
    shifts = [cmd(x, y + s).item() for s in (0.25, 0.5, 1.0)]
    scales = [cmd(x, y * s).item() for s in (1.25, 1.5, 2.0)]
    assert base < shifts[0] < shifts[1] < shifts[2]
    assert base < scales[0] < scales[1] < scales[2]
    # the public form is blind to a per-feature mean shift with the same overall variance
    z = y.clone(); z[:, ::2] += 1; z[:, 1::2] -= 1
    z = (z - z.mean()) / z.std(unbiased=False) * y.std(unbiased=False) + y.mean()
    assert cmd(y, z) > 5 * base and cmd_reference(y, z) < 1e-3
    torch.testing.assert_close(cmd(x * 7, y * 7), cmd(x, y))  # the default span makes it scale-free
    assert cmd(x, y + 1, span=1.0) > cmd(x, y + 1)  # a fixed span is available


def test_input_shape_errors(batch):
    face, eeg = batch
    m = AIMSTF("paper")
    with pytest.raises(ValueError, match=r"face must be \(B, 5, 3, 64, 64\)"):
        m(face[..., :32], eeg)
    with pytest.raises(ValueError, match=r"eeg must be \(B, 32, 128\), got \(6, 30, 128\)"):
        m(face, eeg[:, :30])
    with pytest.raises(ValueError, match="batch sizes differ"):
        m(face[:2], eeg)
    with pytest.raises(ValueError, match="float tensor"):
        m((face * 255).to(torch.uint8), eeg)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_one_step(name, batch):
    face, eeg = batch
    torch.manual_seed(0)
    m = build_model(name).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    loss = m.default_loss()(m(face, eeg), y).total
    loss.backward()
    grads = [p.grad for n, p in m.named_parameters() if ".unused." not in n]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    before = [p.detach().clone() for p in m.parameters()]
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert m.modality in ("eeg", "face", "both")
