"""Model shapes, activations, conditioning, the seed's size, the penalties on non-linear
critics (values worked out by hand) and the one-pass critic loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from braingan import losses, models
from braingan.config import ConfigError, Model, Train

SHAPES = [(116, 25), (72, 47)]  # the seed's Stahl canvas, the default NCI canvas


@pytest.mark.parametrize("family", models.FAMILIES.names())
@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "per-task"])
@pytest.mark.parametrize("conditioning", ["task", "task+class"])
@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes_for_both_tasks(family, activation, conditioning, shape):
    m = Model(family=family, activation=activation, conditioning=conditioning, z_dim=4, dim=8, blocks=1)
    G, D = models.build(m, shape)
    for task in (models.MNIST, models.SMILES):
        t = torch.full((5,), task)
        cls = torch.arange(5) if task == models.MNIST else torch.full((5,), -1)
        x = models.activate(G(torch.randn(5, 4), models.condition(t, cls, conditioning)), task, m)
        assert x.shape == (5, *shape)
        out = D(x)
        assert out["score"].shape == (5,) and out["task"].shape == (5, 2)
        assert ("class" in out) == (conditioning == "task+class")


@pytest.mark.parametrize("activation, task, expect", [
    ("sigmoid", models.MNIST, "sigmoid"), ("sigmoid", models.SMILES, "sigmoid"),
    ("softmax", models.MNIST, "softmax"), ("softmax", models.SMILES, "softmax"),
    ("per-task", models.MNIST, "sigmoid"), ("per-task", models.SMILES, "softmax"),
])
def test_activation_is_exactly_the_named_function(activation, task, expect):
    logits = torch.tensor([[[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]])
    want = logits.sigmoid() if expect == "sigmoid" else logits.softmax(-1)
    torch.testing.assert_close(models.activate(logits, task, Model(activation=activation)), want, rtol=0, atol=0)


def test_gumbel_straight_through_forward_is_the_noisy_argmax_and_backward_the_soft_gradient():
    logits = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], requires_grad=True)
    u = torch.tensor([[[0.5, 0.99, 0.5], [0.5, 0.5, 0.5]]])
    g = -torch.log(-torch.log(u))  # row 0: noise lifts symbol 1 over symbol 0 (1 + 0.37 < 0 + 4.60)
    x = models.gumbel_straight_through(logits, 0.5, u)
    torch.testing.assert_close(x.detach(), torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]))
    w = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    (x * w).sum().backward()
    soft = ((logits.detach() + g) / 0.5).softmax(-1)
    want = (soft * (w - (soft * w).sum(-1, keepdim=True))) / 0.5  # d/dlogits of <softmax((l+g)/tau), w>
    torch.testing.assert_close(logits.grad, want)


def test_without_gumbel_noise_the_critic_is_fed_the_argmax_evaluation_reads_with_the_soft_gradient():
    # model.gumbel_noise false: no u is drawn, so the forward row is argmax(logits) = symbol 0,
    # and the gradient is that of softmax(logits / tau) = softmax([0.4, 0.2, 0.0])
    logits = torch.tensor([[[0.2, 0.1, 0.0]]], requires_grad=True)
    x = models.activate(logits, models.SMILES, Model(activation="per-task", gumbel_noise=False), 0.5)
    torch.testing.assert_close(x.detach(), torch.tensor([[[1.0, 0.0, 0.0]]]))
    (x * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    # soft = (0.40176, 0.32894, 0.26931), <soft, w> = 1.86756; grad_i = soft_i (w_i - 1.86756) / 0.5
    torch.testing.assert_close(logits.grad, torch.tensor([[[-0.69711, 0.08713, 0.60997]]]), atol=2e-5, rtol=0)
    # the same logits with noise: some draws are not the argmax
    draws = models.activate(logits.detach().expand(200, 1, 3), models.SMILES, Model(activation="per-task"), 0.5)
    assert 0 < (draws[:, 0, 0] == 0).sum() < 200


def test_gumbel_rows_only_for_smiles_and_only_with_a_temperature():
    logits = torch.randn(4, 6, 5)
    m = Model(activation="per-task")
    torch.testing.assert_close(models.activate(logits, models.MNIST, m, 1.0), logits.sigmoid())
    torch.testing.assert_close(models.activate(logits, models.SMILES, m, 0.0), logits.softmax(-1))
    hard = models.activate(logits, models.SMILES, m, 1.0)
    assert set(hard.unique().tolist()) == {0.0, 1.0} and (hard.sum(-1) == 1).all()


def test_condition_gives_digits_their_class_and_smiles_none():
    task = torch.tensor([models.MNIST, models.SMILES, models.MNIST])
    cls = torch.tensor([7, 3, 0])  # a class given for the SMILES row must not reach the generator
    c = models.condition(task, cls, "task+class")
    want = torch.zeros(3, 12)
    want[0, 0], want[0, 2 + 7] = 1, 1
    want[1, 1] = 1
    want[2, 0], want[2, 2 + 0] = 1, 1
    torch.testing.assert_close(c, want)
    torch.testing.assert_close(models.condition(task, cls, "task"), want[:, :2])


def test_seed_generator_is_under_5000_parameters_at_the_seed_shapes():
    G, _ = models.build(Model(family="seed", z_dim=2, dropout=0.4), (116, 25))
    n = models.n_params(G)
    print(f"seed generator parameters at 116x25: {n}")
    assert n < 5000


def test_unknown_family_is_rejected_with_the_registry_names():
    with pytest.raises(ConfigError, match=f"allowed values: {', '.join(models.FAMILIES.names())}"):
        models.build(Model(family="gpt"), (72, 47))


def test_seed_critic_on_a_too_small_canvas_is_a_clear_error():
    with pytest.raises(ConfigError, match="at least 13 rows, but it has 12; raise preprocess.extra_pad$"):
        models.build(Model(family="seed"), (12, 25))


def test_seed_critic_layers_and_parameters_counted_by_hand_down_to_its_smallest_canvas():
    _, D = models.build(Model(family="seed", dropout=0.4), (116, 25))
    assert [type(m).__name__ for m in D.body] == ["Conv1d", "LeakyReLU", "Dropout", "MaxPool1d",
                                                  "Conv1d", "LeakyReLU", "Dropout", "MaxPool1d",
                                                  "Flatten", "Linear", "LeakyReLU", "Dropout"]
    assert [m.negative_slope for m in D.body if isinstance(m, nn.LeakyReLU)] == [0.2, 0.2, 0.2]
    # conv 25->25 k4: 2525; conv 25->10 k4: 1010; rows 116 -> 113 -> 56 -> 53 -> 26, so linear 260->64: 16704
    assert models.n_params(D.body) == 2525 + 1010 + 16704
    _, small = models.build(Model(family="seed"), (13, 25))  # rows 13 -> 10 -> 5 -> 2 -> 1
    assert models.n_params(small.body) == 2525 + 1010 + (10 * 64 + 64)
    assert small(torch.zeros(3, 13, 25))["score"].shape == (3,)


class _Quadratic(nn.Module):
    """score(x) = c/2 ||x||^2 (input gradient c x, norm c ||x||); task logits 0 (CE = ln 2)."""

    def __init__(self, c=1.0):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return {"score": 0.5 * self.c * x.flatten(1).pow(2).sum(1), "task": torch.zeros(len(x), 2)}


REAL = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
FAKE = torch.tensor([[0.0, 4.0], [1.0, 1.0]])
EPS = torch.tensor([[0.5], [0.25]])


def test_gradient_penalty_of_a_non_linear_critic_is_taken_at_the_interpolates():
    # interpolates: [1.5, 2] (norm 2.5) and [1, 1] (norm sqrt 2): ((2.5-1)^2 + (sqrt2-1)^2) / 2
    want = ((2.5 - 1) ** 2 + (math.sqrt(2) - 1) ** 2) / 2
    D = _Quadratic()
    gp = losses.gradient_penalty(D, REAL, FAKE, EPS)
    assert gp.item() == pytest.approx(want, rel=1e-6)
    # the penalty trains the critic (double backward): d/dc mean((c n - 1)^2) = mean(2 (c n - 1) n) at c = 1
    gp.backward()
    assert D.c.grad.item() == pytest.approx((2 * 1.5 * 2.5 + 2 * (math.sqrt(2) - 1) * math.sqrt(2)) / 2, rel=1e-6)
    # at the fakes it would be ((4-1)^2 + (sqrt2-1)^2) / 2 and at the reals ((3-1)^2 + ...) / 2
    assert want != pytest.approx(((4 - 1) ** 2 + (math.sqrt(2) - 1) ** 2) / 2)


def test_r1_penalty_of_a_non_linear_critic_is_the_mean_squared_gradient_norm_at_the_reals():
    # gradient 2x at the reals: ||(6, 0)||^2 = 36 and ||(2, 2)||^2 = 8
    assert losses.r1_penalty(_Quadratic(2.0), REAL).item() == pytest.approx((36 + 8) / 2)


def test_ns_r1_critic_loss_weighs_r1_by_gamma_over_two():
    loss = losses.build(Train(loss="ns-r1", gp_lambda=3.0))
    D, task = _Quadratic(), torch.zeros(2, dtype=torch.long)
    total, logs = loss.critic_loss(D, REAL, FAKE, task, None)
    s_r, s_f = torch.tensor([4.5, 1.0]), torch.tensor([8.0, 1.0])
    r1 = (9 + 2) / 2  # gradient x at the reals: 9 and 2
    want = F.softplus(-s_r).mean() + F.softplus(s_f).mean() + math.log(2) + 1.5 * r1
    assert total.item() == pytest.approx(want.item(), rel=1e-6)
    assert logs["r1"].item() == pytest.approx(r1)


def test_wgan_generator_loss_is_minus_the_mean_score_plus_the_weighted_task_and_class_losses_by_hand():
    class _Fixed(nn.Module):
        def forward(self, x):
            cls_logits = torch.zeros(2, 10)
            cls_logits[0, 3] = 1.0
            return {"score": torch.tensor([1.0, 3.0]), "task": torch.tensor([[2.0, 0.0], [0.0, 1.0]]), "class": cls_logits}

    loss = losses.build(Train(loss="wgan-gp", gen_task_weight=0.5))
    # a digit asked for class 3 and a molecule (class -1: no class loss)
    total, logs = loss.generator_loss(_Fixed(), torch.zeros(2, 4, 3), torch.tensor([0, 1]), torch.tensor([3, -1]))
    task_ce = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    class_ce = math.log(math.e + 9) - 1  # class 3 of ten logits, one of them 1
    assert set(logs) == {"g_adv", "g_aux"}
    assert logs["g_adv"].item() == pytest.approx(-2.0) and logs["g_aux"].item() == pytest.approx(task_ce + class_ce)
    assert total.item() == pytest.approx(-2.0 + 0.5 * (task_ce + class_ce))


def test_non_saturating_loss_at_an_undecided_critic_is_2_ln_2():
    ns = losses.build(Train(loss="ns-r1"))
    zero = torch.zeros(4)
    assert ns.critic_adv(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert ns.generator_adv(zero).item() == pytest.approx(math.log(2))
    assert ns.generator_adv(torch.full((4,), 20.0)).item() < 1e-8  # a fooled critic: no loss


@pytest.mark.parametrize("loss_name", losses.LOSSES.names())
@pytest.mark.parametrize("critic_task_on", ["real", "real+fake"])
def test_one_pass_critic_loss_equals_separate_passes(loss_name, critic_task_on):
    """The concatenated real|fake pass computes what two passes computed (equal within
    float32 rounding: 1e-5 relative), gradients included; the penalty is the loss's own."""
    torch.manual_seed(0)
    m = Model(family="resnet", conditioning="task+class", dim=8, blocks=1)
    _, D = models.build(m, (16, 6))
    real, fake = torch.rand(8, 16, 6), torch.rand(8, 16, 6)
    task, cls = torch.zeros(8, dtype=torch.long), torch.arange(8) % 10
    loss = losses.build(Train(loss=loss_name, critic_task_on=critic_task_on, gp_lambda=10.0))
    torch.manual_seed(1)
    fused, _ = loss.critic_loss(D, real, fake, task, cls)
    g_fused = torch.autograd.grad(fused, list(D.parameters()))
    torch.manual_seed(1)  # the same interpolation weights
    out_r, out_f = D(real), D(fake)
    aux = losses.aux_loss(out_r, task, cls) + (losses.aux_loss(out_f, task, cls) if critic_task_on == "real+fake" else 0)
    separate = loss.critic_adv(out_r["score"], out_f["score"]) + aux + loss.penalty(D, real, fake)[0]
    g_sep = torch.autograd.grad(separate, list(D.parameters()))
    assert fused.item() == pytest.approx(separate.item(), rel=1e-5)
    for a, b in zip(g_fused, g_sep):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_pointwise_layer_computes_what_a_kernel_1_conv1d_computes_gradients_and_penalty_included():
    """The speed layer keeps the float semantics: the same output, input gradient, weight
    gradient and second-order (penalty) gradient as nn.Conv1d(k=1) with its weights, equal
    within float32 rounding (1e-5), on a channels-last input and a channels-first one."""
    torch.manual_seed(0)
    pw = models.Pointwise(5, 3)
    conv = nn.Conv1d(5, 3, 1)
    conv.load_state_dict(pw.state_dict())  # same keys and shapes: checkpoints load either way
    assert {k: v.shape for k, v in pw.state_dict().items()} == {"weight": (3, 5, 1), "bias": (3,)}
    rows = torch.randn(4, 7, 5)  # [N, L, C] as the canvas comes, asymmetric in every dimension
    for x0 in (rows.transpose(1, 2), rows.transpose(1, 2).contiguous()):
        grads = []
        for layer in (pw, conv):
            x = x0.detach().clone().requires_grad_(True)
            y = layer(x)
            assert y.shape == (4, 3, 7)
            (gx,) = torch.autograd.grad(y.tanh().sum(), x, create_graph=True)  # non-linear: real 2nd order
            penalty = gx.pow(2).sum()
            grads.append((y, gx) + torch.autograd.grad(penalty, [layer.weight, layer.bias]))
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # the resnet family uses it where a V-wide canvas meets the 1x1 layers: critic input, generator output
    G, D = models.build(Model(family="resnet", dim=8, blocks=1), (16, 6))
    assert isinstance(G.out, models.Pointwise) and isinstance(D.body[0], models.Pointwise)


def test_the_default_losses_penalties_are_the_gradient_penalty_and_r1():
    torch.manual_seed(0)
    _, D = models.build(Model(family="resnet", dim=8, blocks=1), (16, 6))
    real, fake = torch.rand(4, 16, 6), torch.rand(4, 16, 6)
    torch.manual_seed(1)
    gp = losses.build(Train(loss="wgan-gp", gp_lambda=10.0)).penalty(D, real, fake)[0]
    torch.manual_seed(1)
    assert gp.item() == pytest.approx(10 * losses.gradient_penalty(D, real, fake, torch.rand(4, 1, 1)).item())
    r1 = losses.build(Train(loss="ns-r1", gp_lambda=4.0)).penalty(D, real, fake)[0]
    assert r1.item() == pytest.approx(2 * losses.r1_penalty(D, real).item())
    assert losses.build(Train(loss="wgan-clip")).penalty(D, real, fake)[0].item() == 0.0


def test_clipping_bounds_every_critic_weight():
    _, D = models.build(Model(family="seed", z_dim=2), (116, 25))
    loss = losses.build(Train(loss="wgan-clip", clip=0.01))
    with torch.no_grad():
        for p in D.parameters():
            p.normal_(0, 1)
    loss.after_critic_step(D)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())
    assert max(p.abs().max().item() for p in D.parameters()) == pytest.approx(0.01)


def test_seed_generator_layers_follow_the_2018_write_up_with_parameters_counted_by_hand():
    G = models.SeedGenerator(z_dim=2, cdim=2, shape=(116, 25), dropout=0.4)
    assert [type(m).__name__ for m in G.net] == ["Dropout", "Upsample", "Conv1d", "ReLU", "Dropout", "Upsample",
                                                 "Conv1d", "ReLU", "Dropout", "Conv1d"]
    # dense 4 -> 29*6: 870; conv 6->8 k2: 104; conv 8->12 k2: 204; conv 12->25 k4: 1225
    assert models.n_params(G) == 870 + 104 + 204 + 1225 == 2403
    tiny = models.SeedGenerator(z_dim=2, cdim=2, shape=(8, 7), dropout=0.0)  # V // 4 = 1 channel
    # dense 4 -> 2*1: 10; conv 1->2 k2: 6; conv 2->3 k2: 15; conv 3->7 k4: 91
    assert models.n_params(tiny) == 10 + 6 + 15 + 91
    narrow = models.SeedGenerator(z_dim=2, cdim=2, shape=(8, 3), dropout=0.0)  # V // 3 = V // 2 = 1: one channel each
    # dense 4 -> 2*1: 10; conv 1->1 k2: 3; conv 1->1 k2: 3; conv 1->3 k4: 15
    assert models.n_params(narrow) == 10 + 3 + 3 + 15
    assert narrow(torch.zeros(5, 2), torch.zeros(5, 2)).shape == (5, 8, 3)
