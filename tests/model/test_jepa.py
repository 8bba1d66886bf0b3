import copy
import itertools

import numpy as np
import torch
import torch.nn.functional as F

from model.config import load_run_config
from model.ema import ema_momentum, ema_update
from model.jepa import StemJEPA, jepa_loss, pooled, pooled_infonce
from model.vit import count_parameters


def test_base_config_has_the_papers_sizes():
    run = load_run_config("base")
    model = StemJEPA(run.model)
    enc = count_parameters(model.context_encoder)
    pred = count_parameters(model.predictor)
    assert 84e6 < enc < 87e6, enc  # ViT-B: ~85 M
    assert 6.4e6 < pred < 6.8e6, pred  # 6-layer MLP, 1024 hidden: ~6.6 M
    assert run.model.encoder.grid(run.model.audio) == (5, 50)


def test_loss_equals_normalised_mse():
    g = torch.Generator().manual_seed(0)
    pred, tgt = torch.randn(2, 50, 5, 16, generator=g), torch.randn(2, 50, 5, 16, generator=g)
    expected = ((pred / pred.norm(dim=-1, keepdim=True) - tgt / tgt.norm(dim=-1, keepdim=True)) ** 2).sum(-1).mean()
    assert torch.allclose(jepa_loss(pred, tgt), expected, atol=1e-6)
    cos = F.cosine_similarity(pred, tgt, dim=-1).mean()
    assert torch.allclose(jepa_loss(pred, tgt), 2 - 2 * cos, atol=1e-5)


def test_target_encoder_gets_no_gradient_and_follows_ema(tiny_model):
    model = tiny_model
    ctx, tgt = torch.randn(2, 128_000) * 0.1, torch.randn(2, 128_000) * 0.1
    model(ctx, tgt, torch.tensor([0, 1]))[0].backward()
    assert all(p.grad is None for p in model.target_encoder.parameters())
    assert any(p.grad is not None for p in model.context_encoder.parameters())
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(torch.randn_like(p))
    before = copy.deepcopy(model.target_encoder)
    ema_update(model.target_encoder, model.context_encoder, 0.9)
    for t, b, o in zip(model.target_encoder.parameters(), before.parameters(), model.context_encoder.parameters(),
                       strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * o, atol=1e-6)


def test_ema_rate_rises_linearly():
    assert ema_momentum(0, 100, 0.99, 1.0) == 0.99
    assert abs(ema_momentum(50, 100, 0.99, 1.0) - 0.995) < 1e-12
    assert ema_momentum(100, 100, 0.99, 1.0) == 1.0
    rates = [ema_momentum(s, 100, 0.99, 1.0) for s in range(101)]
    assert all(b >= a for a, b in itertools.pairwise(rates))


def test_unconditioned_and_transformer_predictors_run(tiny_run):
    from dataclasses import replace

    for pred_cfg in (replace(tiny_run.model.predictor, conditioned=False),
                     replace(tiny_run.model.predictor, kind="transformer", hidden=32, depth=2, heads=2)):
        model = StemJEPA(replace(tiny_run.model, predictor=pred_cfg))
        loss, _ = model(torch.randn(2, 128_000) * 0.1, torch.randn(2, 128_000) * 0.1, torch.tensor([0, 3]))
        assert torch.isfinite(loss)


def test_unconditioned_predictor_ignores_instrument(tiny_run):
    from dataclasses import replace

    model = StemJEPA(replace(tiny_run.model, predictor=replace(tiny_run.model.predictor, conditioned=False))).eval()
    emb = torch.randn(1, 3, 5, tiny_run.model.encoder.dim)
    a, b = model.predictor(emb, torch.tensor([0])), model.predictor(emb, torch.tensor([2]))
    assert torch.equal(a, b)
    assert np.isfinite(a.detach().numpy()).all()


def test_pooled_matches_the_embedders_vector(tiny_model):
    from model.embed import Embedder

    wave = torch.randn(1, 128_000) * 0.1
    embedder = Embedder(tiny_model.eval(), device="cpu")
    with torch.no_grad():
        emb = tiny_model.target_encoder(tiny_model.features(wave))
    got = pooled(emb)[0].numpy()
    want = embedder.embed_stem(wave[0].numpy()).vector
    assert np.allclose(got, want, atol=1e-5)


def test_infonce_is_low_for_matching_and_high_for_shuffled_targets():
    g = torch.Generator().manual_seed(0)
    tgt = torch.randn(8, 4, 5, 16, generator=g)
    inst, song = torch.arange(8) % 4, torch.arange(8)
    matching = pooled_infonce(tgt, tgt, inst, song, 0.1)
    shuffled = pooled_infonce(tgt[torch.randperm(8, generator=g)], tgt, inst, song, 0.1)
    assert matching < 0.05 < shuffled
    assert shuffled > 1.0


def test_infonce_masks_duplicates_of_the_same_song_and_instrument():
    g = torch.Generator().manual_seed(1)
    tgt = torch.randn(4, 4, 5, 16, generator=g)
    tgt[1] = tgt[0]  # the same stem drawn twice in one batch
    inst, song = torch.tensor([2, 2, 0, 1]), torch.tensor([7, 7, 3, 4])
    masked = pooled_infonce(tgt, tgt, inst, song, 0.1)
    unmasked = pooled_infonce(tgt, tgt, inst, torch.tensor([7, 8, 3, 4]), 0.1)
    assert masked < 0.01  # with the duplicate masked, each row's only candidate equal to it is its own
    assert unmasked > 0.3  # counted as a negative, the duplicate splits the probability mass


def test_contrastive_term_is_zero_without_song_ids_and_trains_the_online_side(tiny_model):
    ctx, tgt = torch.randn(4, 128_000) * 0.1, torch.randn(4, 128_000) * 0.1
    inst = torch.tensor([0, 1, 2, 3])
    _, zero = tiny_model(ctx, tgt, inst)
    assert zero.item() == 0.0
    _, nce = tiny_model(ctx, tgt, inst, torch.arange(4))
    assert nce.item() > 0
    nce.backward()
    assert all(p.grad is None for p in tiny_model.target_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_model.predictor.parameters())


def test_online_keys_embed_targets_with_the_context_encoder(tiny_model):
    ctx, tgt = torch.randn(4, 128_000) * 0.1, torch.randn(4, 128_000) * 0.1
    inst, song = torch.tensor([0, 1, 2, 3]), torch.arange(4)
    with torch.no_grad():  # a trained context encoder has moved away from its EMA copy
        for p in tiny_model.context_encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    _, ema_keys = tiny_model(ctx, tgt, inst, song)
    _, online = tiny_model(ctx, tgt, inst, song, online_keys=True)
    assert not torch.isclose(ema_keys, online)
    online.backward()
    grads = [p.grad for p in tiny_model.context_encoder.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in tiny_model.target_encoder.parameters())
