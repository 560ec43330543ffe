"""The "reference" variant against the public code's numbers (shared/reference/*.pt): eval outputs in several
batch arrangements, every loss term, one training step, intermediates, initialisation, and checkpoint round trips."""
import os

import pytest
import torch

from aimstf_kit.losses import AIMSTFLoss, cmd_reference
from aimstf_kit.models.aimstf import AIMSTF, find_reference_dir, load_reference, to_kit_key
from aimstf_kit.models.eeg import n_params

REF = find_reference_dir()
if REF is None:
    if os.environ.get("CI"):
        raise RuntimeError("shared/reference/aimstf_reference_state.pt not found: CI must have it (set AIMSTF_REFERENCE_DIR)")
    pytest.skip("the public code's golden files (shared/reference) are not here; set AIMSTF_REFERENCE_DIR", allow_module_level=True)

FILES = ["aimstf_reference_state.pt", "aimstf_reference_state_c1.pt"]
EVAL = dict(atol=1e-6, rtol=1e-5)
NAMES = ["SP_E", "SP_F", "SH_E", "SH_F", "fc1_out", "fc2_out", "logits"]


@pytest.fixture(autouse=True)
def two_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)  # the golden numbers were made with 2 threads
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module", params=FILES)
def gold(request):
    return torch.load(REF / request.param, weights_only=True)


def run(model, face, eeg):
    "The saved face inputs are what the public network saw (BGR); the kit's model takes RGB."
    with torch.no_grad():
        return model(face.flip(2), eeg)


def check(out, expected, **tol):
    for name, got in zip(NAMES, out):
        torch.testing.assert_close(got, expected[name], **(tol or EVAL), msg=lambda m: f"{name}: {m}")


def test_parameter_counts(gold):
    model = load_reference(gold["state_dict"])
    c = gold["config"]["num_classes"]
    assert n_params(model) == {2: 3_473_011, 1: 3_472_962}[c]
    assert len(model.ignored_keys) == 24 and all("assist_attention" in k for k in model.ignored_keys)


def test_eval_outputs_every_arrangement(gold):
    model = load_reference(gold["state_dict"])
    face, eeg = gold["inputs"]["face"], gold["inputs"]["eeg"]
    check(run(model, face, eeg), gold["outputs"])
    check(run(model, face[:1], eeg[:1]), gold["outputs_batch1"])
    perm = gold["outputs_permuted_batch"]["perm"]
    check(run(model, face[perm], eeg[perm]), gold["outputs_permuted_batch"]["outputs"])
    check(run(model, face[:1].repeat(4, 1, 1, 1, 1), eeg[:1].repeat(4, 1, 1)), gold["outputs_sample0_repeated4"])
    x = gold["extra_case_diverse"]
    check(run(model, x["face"], x["eeg"]), x["outputs"])
    check(run(model, x["face"][:3], x["eeg"][:3]), x["outputs_first3_batch3"])


def test_public_operator_order_gives_the_same_numbers(gold):
    slow = load_reference(gold["state_dict"], fast=False)
    check(run(slow, gold["inputs"]["face"], gold["inputs"]["eeg"]), gold["outputs"])


def test_loss_terms(gold):
    model = load_reference(gold["state_dict"])
    out = run(model, gold["inputs"]["face"], gold["inputs"]["eeg"])
    terms = AIMSTFLoss(cmd="reference")(out, gold["inputs"]["labels"])
    L = gold["loss"]
    for mine, theirs in [(terms.cls, "pred_loss"), (terms.diff_sp_sh_eeg, "diff_SPE_SHE"), (terms.diff_sp_sh_face, "diff_SPF_SHF"),
                         (terms.diff_sp_eeg_face, "diff_SPE_SPF"), (terms.cmd, "cmd_SHE_SHF"), (terms.total, "total")]:
        assert abs(mine.item() - float(L[theirs])) < 1e-6, theirs
    assert model.default_loss().cmd_kind == "reference"


def test_intermediates(gold):
    model = load_reference(gold["state_dict"])
    out, ints = model(gold["inputs"]["face"].flip(2), gold["inputs"]["eeg"], return_internals=True)
    ie = gold["intermediates_eval"]
    torch.testing.assert_close(ints["eeg_feature"], ie["eeg_out"], **EVAL)
    torch.testing.assert_close(ints["face_feature"], ie["face_out"], **EVAL)
    torch.testing.assert_close(ints["fusion_weights"], ie["fusion_softmax_weights(derived)"], **EVAL)
    torch.testing.assert_close(ints["fusion_weights"], torch.full((4, 3), 1 / 3), atol=1e-7, rtol=0)
    for i in range(6):
        torch.testing.assert_close(ints["attention"][i], ie[f"eeg.L{i + 1}.attn_weights_headavg"], **EVAL)
        sw = gold["similarity_weights_derived"][f"L{i + 1}"]
        torch.testing.assert_close(ints["similarity"][i], sw["cos_sim"], **EVAL)
        torch.testing.assert_close(ints["level_weights"][i], sw["weights_after_1_minus"], **EVAL)


def test_one_training_step(gold):
    model = load_reference(gold["state_dict"]).train()
    ts = gold["train_step"]
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-4)
    torch.manual_seed(ts["seed_before_forward"])
    out = model(gold["inputs"]["face"].flip(2), gold["inputs"]["eeg"])
    check(out, ts["train_mode_outputs"], atol=1e-5, rtol=1e-5)  # same dropout draws, same batch statistics
    terms = AIMSTFLoss(cmd="reference")(out, gold["inputs"]["labels"])
    assert abs(terms.total.item() - float(ts["train_mode_loss"]["total"])) < 1e-5
    opt.zero_grad()
    terms.total.backward()
    # no gradient reaches the unused attentions, and they stay untouched by Adam
    assert all(p.grad is None for n, p in model.named_parameters() if ".unused." in n)
    opt.step()
    model.eval()
    check(run(model, gold["inputs"]["face"], gold["inputs"]["eeg"]), ts["outputs_after_step_eval"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(run(model, gold["inputs"]["face"], gold["inputs"]["eeg"]).logits, ts["logits_after_step_eval"],
                               atol=1e-5, rtol=1e-5)
    sd = model.reference_state_dict()
    for k, v in ts["bn_running_stats_after"].items():
        torch.testing.assert_close(sd[k].to(v.dtype), v, atol=1e-5, rtol=1e-5, msg=lambda m: f"{k}: {m}")


def test_seeded_construction_reproduces_the_public_init(gold):
    torch.manual_seed(0)
    model = AIMSTF("reference", num_classes=gold["config"]["num_classes"])
    sd = model.reference_state_dict()
    assert sorted(sd) == sorted(gold["state_dict"])
    bad = [k for k in sd if not torch.equal(sd[k], gold["state_dict"][k])]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}"


def test_checkpoint_files_round_trip(gold, tmp_path):
    model = load_reference(gold["state_dict"])
    p = tmp_path / "public.pth"
    torch.save(model.reference_state_dict(), p)
    again = load_reference(p)
    for k, v in gold["state_dict"].items():
        assert torch.equal(again.reference_state_dict()[k], v), k


def test_bad_checkpoints():
    g = torch.load(REF / FILES[0], weights_only=True)["state_dict"]
    with pytest.raises(ValueError, match="unknown key"):
        load_reference({**g, "extra.weight": torch.zeros(1)})
    short = {k: v for k, v in g.items() if not k.startswith("fc_2.")}
    with pytest.raises(ValueError, match="lacks 2 key"):
        load_reference(short)
    with pytest.raises(ValueError, match="not num_classes=1"):
        load_reference(g, num_classes=1)
    with pytest.raises(ValueError, match="not a public AIMSTF-SSFF state dict"):
        load_reference({"a": torch.zeros(1)})
    assert to_kit_key("eeg_feature_extractor.TASM_layers.3.se.conv_reduce.weight") == "eeg.blocks.3.se.reduce.weight"
