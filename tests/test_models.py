"""Model shapes, the seed's size, the gradient penalty and weight clipping."""
import math

import pytest
import torch
from torch import nn

from braingan import losses, models
from braingan.config import Model, Train

SHAPES = [(116, 25), (72, 47)]  # the seed's Stahl canvas, the default NCI canvas


@pytest.mark.parametrize("family", sorted(models.REGISTRY))
@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "per-task"])
@pytest.mark.parametrize("conditioning", ["task", "task+class"])
@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes_for_both_tasks(family, activation, conditioning, shape):
    m = Model(family=family, activation=activation, conditioning=conditioning, z_dim=4, dim=8, blocks=1)
    G, D = models.build(m, shape)
    for task in (models.MNIST, models.SMILES):
        t = torch.full((5,), task)
        cls = torch.arange(5) if task == models.MNIST else torch.full((5,), -1)
        x = models.activate(G(torch.randn(5, 4), models.condition(t, cls, conditioning)), t, activation)
        assert x.shape == (5, *shape)
        if activation == "softmax" or (activation == "per-task" and task == models.SMILES):
            torch.testing.assert_close(x.sum(-1), torch.ones(5, shape[0]))
        else:
            assert x.min() >= 0 and x.max() <= 1
        out = D(x)
        assert out["score"].shape == (5,) and out["task"].shape == (5, 2)
        assert ("class" in out) == (conditioning == "task+class")


def test_gumbel_straight_through_gives_one_hot_smiles_rows_and_soft_gradients():
    logits = torch.randn(4, 6, 5, requires_grad=True)
    t = torch.tensor([models.SMILES, models.SMILES, models.MNIST, models.MNIST])
    x = models.activate(logits, t, "per-task", gumbel_tau=1.0)
    assert set(x[:2].unique().tolist()) == {0.0, 1.0} and (x[:2].sum(-1) == 1).all()
    torch.testing.assert_close(x[2:], logits[2:].sigmoid())  # digits untouched
    (x[:2] * torch.randn_like(x[:2])).sum().backward()
    assert logits.grad[:2].abs().sum() > 0  # the straight-through estimator passes a gradient


def test_seed_generator_is_under_5000_parameters_at_the_seed_shapes():
    G, _ = models.build(Model(family="seed", z_dim=2, dropout=0.4), (116, 25))
    n = models.n_params(G)
    print(f"seed generator parameters at 116x25: {n}")
    assert n < 5000


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="allowed: seed, resnet"):
        models.build(type("M", (), {"family": "gpt"})(), (72, 47))


class _Linear(nn.Module):
    """A critic whose score is <w, x> with ||w|| = 1: its input gradient has norm exactly 1."""

    def __init__(self, dim):
        super().__init__()
        w = torch.randn(dim)
        self.w = nn.Parameter(w / w.norm())

    def forward(self, x):
        return {"score": x.flatten(1) @ self.w}


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    real, fake = torch.randn(16, 6, 5), torch.randn(16, 6, 5)
    assert losses.gradient_penalty(_Linear(30), real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_of_a_critic_with_gradient_norm_3_is_4():
    c = _Linear(30)
    with torch.no_grad():
        c.w.mul_(3)
    assert losses.gradient_penalty(c, torch.randn(8, 30), torch.randn(8, 30)).item() == pytest.approx(4.0, rel=1e-5)


def test_r1_penalty_of_a_critic_with_gradient_norm_3_is_9():
    c = _Linear(30)
    with torch.no_grad():
        c.w.mul_(3)
    assert losses.r1_penalty(c, torch.randn(8, 30)).item() == pytest.approx(9.0, rel=1e-5)


def test_non_saturating_loss_at_an_undecided_critic_is_2_ln_2():
    ns = losses.build(Train(loss="ns-r1"))
    zero = torch.zeros(4)
    assert ns.critic_adv(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert ns.generator_adv(zero).item() == pytest.approx(math.log(2))
    assert ns.generator_adv(torch.full((4,), 20.0)).item() < 1e-8  # a fooled critic: no loss


def test_clipping_bounds_every_critic_weight():
    _, D = models.build(Model(family="seed", z_dim=2), (116, 25))
    loss = losses.build(Train(loss="wgan-clip", clip=0.01))
    with torch.no_grad():
        for p in D.parameters():
            p.normal_(0, 1)
    loss.after_critic_step(D)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())
