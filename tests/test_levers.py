"""The quality-per-minute levers, each against values worked out by hand: the moving average
of the generator's weights, lazy regularisation, the end-of-string rule, bfloat16 and its
fallback, the learning-rate schedule."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from braingan import levers, losses, models, training
from braingan.config import Model, Train, from_dict
from helpers import tiny_data, tiny_params


# ---------------------------------------------------------------- moving average of G
def test_ema_update_is_decay_times_average_plus_the_rest_times_the_weights():
    avg, net = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        avg.weight.copy_(torch.tensor([[1.0, -2.0]])), avg.bias.fill_(4.0)
        net.weight.copy_(torch.tensor([[3.0, 2.0]])), net.bias.fill_(0.0)
    levers.ema_update(avg, net, 0.75)
    # 0.75 * [1, -2] + 0.25 * [3, 2] = [1.5, -1.0]; 0.75 * 4 + 0.25 * 0 = 3
    torch.testing.assert_close(avg.weight, torch.tensor([[1.5, -1.0]]))
    torch.testing.assert_close(avg.bias, torch.tensor([3.0]))
    torch.testing.assert_close(net.weight, torch.tensor([[3.0, 2.0]]))  # the trained weights are untouched


def test_ema_decay_follows_the_generator_early_then_holds_the_asked_decay():
    assert levers.ema_decay(0.999, 0, 10) == pytest.approx(1 / 10)  # (1 + 0) / (10 + 0)
    assert levers.ema_decay(0.999, 90, 10) == pytest.approx(91 / 100)
    assert levers.ema_decay(0.999, 20_000, 10) == 0.999  # 20001 / 20010 > 0.999
    # a shorter warm-up holds more of the past early: (1 + 5) / (3 + 5), and binds at 0.999 sooner
    assert levers.ema_decay(0.999, 5, 3) == pytest.approx(6 / 8)
    assert levers.ema_decay(0.999, 2_000, 3) == 0.999 < levers.ema_decay(0.9999, 2_000, 3) == pytest.approx(2001 / 2003)


def test_with_ema_the_generator_sampled_and_saved_is_the_average(data):
    cfg = from_dict(tiny_params(**{"train.ema": 0.5, "train.ema_warmup": 4}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"), data.vocab.pad)
    before = [p.detach().clone() for p in gan.G_ema.parameters()]
    gan.step(0, models.MNIST)
    decay = 0.25  # the warm-up's (1 + 0) / (4 + 0), below train.ema
    for b, a, p in zip(before, gan.G_ema.parameters(), gan.G.parameters()):
        torch.testing.assert_close(a, decay * b + (1 - decay) * p.detach())
    assert gan.generator(data, 1).net is gan.G_ema
    assert all(not p.requires_grad for p in gan.G_ema.parameters())


# ---------------------------------------------------------------- lazy regularisation
class _Critic(nn.Module):
    """score(x) = sum(w * x^2) per sample: its input gradient 2 w x is worked out by hand."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        score = (self.w * x**2).flatten(1).sum(1)
        return {"score": score, "task": torch.zeros(len(x), 2)}


def test_lazy_penalty_is_the_penalty_times_its_interval_and_absent_otherwise():
    loss = losses.build(Train(gp_lambda=10.0))
    critic = _Critic([[1.0, 2.0]])
    real, fake = torch.tensor([[[1.0, 1.0]]]), torch.tensor([[[0.0, 0.0]]])
    task, cls = torch.zeros(1, dtype=torch.long), torch.full((1,), -1)
    torch.manual_seed(3)
    eps = torch.rand(1, 1, 1)  # the interpolation weight the penalty will draw
    x = eps * real  # eps * real + (1 - eps) * 0
    grad_norm = (2 * critic.w.detach() * x).norm()  # |d score / d x| = |2 w x|
    gp = (grad_norm - 1) ** 2
    adv = 0.0 - (1.0 * 1 + 2.0 * 1)  # E[D(fake)] - E[D(real)] = 0 - 3
    aux = nn.functional.cross_entropy(torch.zeros(1, 2), task)  # log 2
    for weight in (1.0, 4.0):
        torch.manual_seed(3)
        total, logs = loss.critic_loss(critic, real, fake, task, cls, penalty_weight=weight)
        assert total.item() == pytest.approx(adv + aux.item() + weight * 10.0 * gp.item(), rel=1e-5)
        assert logs["gp"].item() == pytest.approx(gp.item(), rel=1e-5)
    total, logs = loss.critic_loss(critic, real, fake, task, cls, penalty_weight=0.0)
    assert total.item() == pytest.approx(adv + aux.item(), rel=1e-6) and "gp" not in logs


def test_lazy_penalty_lands_on_every_kth_critic_update_of_each_task(data, monkeypatch):
    """Tasks alternate, so counting updates over both tasks would put every penalty on one task."""
    cfg = from_dict(tiny_params(**{"train.gp_every": 2, "train.n_critic": 1}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"), data.vocab.pad)
    weights = []
    real_loss = gan.loss.critic_loss
    monkeypatch.setattr(gan.loss, "critic_loss",
                        lambda *a, penalty_weight, **k: weights.append(penalty_weight) or real_loss(
                            *a, penalty_weight=penalty_weight, **k))
    for step in range(6):
        gan.step(step, training.TRAINED_TASKS["both"][step % 2])
    # steps 0..5 alternate mnist/smiles; each task's critic updates 0, 1, 2: penalty on 0 and 2, weight 2
    assert weights == [2.0, 2.0, 0.0, 0.0, 2.0, 2.0]


# ---------------------------------------------------------------- end of string
def test_end_of_string_on_one_hot_rows_makes_every_row_after_the_first_pad_a_pad():
    pad = 2
    rows = torch.tensor([[[1.0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]])  # a, pad, b, a
    out = models.end_of_string(rows, pad)
    torch.testing.assert_close(out, torch.tensor([[[1.0, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]]]))
    none = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]])  # no pad: unchanged
    torch.testing.assert_close(models.end_of_string(none, pad), none)


def test_end_of_string_on_soft_rows_moves_each_row_s_weight_by_the_chance_a_pad_came_before():
    pad = 1
    rows = torch.tensor([[[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]]])
    out = models.end_of_string(rows, pad)
    # keep: row 0 1, row 1 (1 - 0.4) = 0.6, row 2 0.6 * (1 - 0.5) = 0.3
    want = torch.tensor([[[0.6, 0.4], [0.6 * 0.5, 0.6 * 0.5 + 0.4], [0.3 * 0.9, 0.3 * 0.1 + 0.7]]])
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(out.sum(-1), torch.ones(1, 3))  # rows stay distributions


def test_end_of_string_is_differentiable_and_only_for_molecules():
    logits = torch.randn(2, 5, 4, requires_grad=True)
    m = Model(activation="per-task", end_of_string=True)
    models.activate(logits, models.SMILES, m, pad=3).sum().backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    torch.testing.assert_close(models.activate(logits, models.MNIST, m, pad=3), logits.sigmoid())
    with pytest.raises(ValueError, match="needs the pad"):
        models.activate(logits, models.SMILES, m)


def test_end_of_string_tokens_cut_a_read_row_at_its_first_pad():
    idx = np.array([[4, 0, 9, 9, 4], [4, 4, 4, 4, 4], [9, 1, 2, 3, 4]])
    want = np.array([[4, 0, 9, 9, 9], [4, 4, 4, 4, 4], [9, 9, 9, 9, 9]])
    np.testing.assert_array_equal(models.end_of_string_tokens(idx, 9), want)


# ---------------------------------------------------------------- bfloat16
def test_bf16_falls_back_to_fp32_with_a_message_where_the_cpu_cannot(data, monkeypatch, capsys):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    cfg = from_dict(tiny_params(**{"train.precision": "bf16"}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"), data.vocab.pad)
    assert gan.G_step is gan.G and gan.D_step is gan.D
    assert ("train.precision: bf16 is not supported natively on this cpu (no AVX512-BF16); training in fp32"
            in capsys.readouterr().err)


def test_bf16_runs_the_networks_in_bfloat16_and_keeps_losses_weights_and_penalty_in_fp32(data, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)  # autocast runs either way
    cfg = from_dict(tiny_params(**{"train.precision": "bf16"}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"), data.vocab.pad)
    assert isinstance(gan.D_step, levers.InBF16) and gan.D_step.net is gan.D
    seen = []
    gan.D.body.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    logs = gan.step(0, models.MNIST)
    assert torch.bfloat16 in seen and torch.float32 in seen  # the critic pass in bf16, the penalty's in fp32
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in logs.values())
    assert all(p.dtype == torch.float32 for p in gan.G.parameters())


# ---------------------------------------------------------------- learning-rate schedule
def test_lr_factor_warms_up_linearly_then_decays_on_a_cosine_to_the_end_ratio():
    f = lambda step: levers.lr_factor(step, 11, "cosine", 1, 0.1)  # noqa: E731
    assert f(0) == 1.0  # warm-up of one step: (0 + 1) / 1
    assert f(1) == pytest.approx(1.0) and f(10) == pytest.approx(0.1)
    assert f(6) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 9)))
    assert [levers.lr_factor(s, 100, "constant", 4, 0.1) for s in (0, 1, 3, 50)] == [0.25, 0.5, 1.0, 1.0]


def test_a_schedule_makes_the_step_count_part_of_what_a_checkpoint_must_match(data):
    plain = [training.digest(from_dict(tiny_params(**{"train.steps": n})), data) for n in (6, 9)]
    cosine = [training.digest(from_dict(tiny_params(**{"train.steps": n, "train.lr_schedule": "cosine"})), data)
              for n in (6, 9)]
    assert plain[0] == plain[1] and cosine[0] != cosine[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_data(tmp_path_factory.mktemp("data"))
