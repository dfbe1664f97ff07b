"""The sequence-VAE section (rnnlib.apps.seqvae): data, windows, model and training."""

import numpy as np
import pytest
import torch

from rnnlib.apps import seqvae as S


def test_sequences_are_deterministic_and_splits_differ():
    x1, l1 = S.generate_sequences(3, 200, seed=4, split="train")
    x2, l2 = S.generate_sequences(3, 200, seed=4, split="train")
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(l1, l2)
    x3, _ = S.generate_sequences(3, 200, seed=4, split="test")
    assert not np.allclose(x1, x3), "train and test must come from different seed streams"
    assert x1.shape == (3, 200, 8) and x1.dtype == np.float32 and l1.dtype == np.int64


def test_segments_switch_motif_and_have_bounded_length():
    _, labels = S.generate_sequences(4, 600, seed=0, split="train", min_segment=40,
                                     max_segment=120)
    for row in labels:
        cuts = np.flatnonzero(np.diff(row)) + 1
        lengths = np.diff(np.r_[0, cuts, len(row)])
        assert (lengths[:-1] >= 40).all() and (lengths <= 120).all()
        assert (row[cuts] != row[cuts - 1]).all()


def test_motifs_are_shared_by_the_splits():
    a, b = S.motif_bank(motif_seed=0), S.motif_bank(motif_seed=0)
    np.testing.assert_array_equal(a["freq"], b["freq"])
    # each motif moves its own keypoint most
    lead = a["amp"].reshape(4, 4, 2).sum(2).argmax(1)
    np.testing.assert_array_equal(lead, np.arange(4))


def test_windows_and_centre_labels():
    x = np.arange(2 * 10 * 1, dtype=np.float32).reshape(2, 10, 1)
    labels = np.tile(np.arange(10), (2, 1))
    w, c = S.make_windows(x, labels, window=4, stride=2)
    assert w.shape == (8, 4, 1)
    np.testing.assert_array_equal(w[1, :, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(c[:4], [2, 4, 6, 8])


def test_smoothing_is_a_moving_average_within_each_sequence():
    f = np.arange(12, dtype=float).reshape(12, 1)
    out = S.smooth_windows(f, 2, 3)
    np.testing.assert_allclose(out[:6, 0], [0.5, 1, 2, 3, 4, 4.5])
    np.testing.assert_allclose(out[6:, 0], [6.5, 7, 8, 9, 10, 10.5])


def test_spectral_features_ignore_a_circular_shift():
    w = np.random.default_rng(0).standard_normal((1, 16, 2))
    shifted = np.roll(w, 5, axis=1)
    np.testing.assert_allclose(S.spectral_features(w), S.spectral_features(shifted), atol=1e-10)


def test_kl_term_matches_the_closed_form_and_shapes():
    torch.manual_seed(0)
    model = S.SequenceVAE(8, hidden=16, latent=3).double()
    x = torch.randn(5, 12, 8, dtype=torch.float64)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    model.eval()
    total, rec, kl = S.vae_loss(model, x, kl_weight=1.0)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(kl, expected, atol=1e-10)
    assert torch.allclose(total, rec + kl)


def test_training_smoke_loss_goes_down():
    x, labels = S.generate_sequences(4, 200, seed=0, split="train")
    w, _ = S.make_windows(x, labels, 32, 8)
    torch.manual_seed(0)
    model = S.SequenceVAE(8, hidden=16, latent=4)
    history = S.train_vae(model, w, epochs=4, batch_size=32, lr=1e-2, kl_weight=1.0)
    assert history["loss"][-1] < history["loss"][0]
    assert S.latent_means(model, w).shape == (len(w), 4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        S.generate_sequences(2, 50, split="dev")
    with pytest.raises(ValueError, match="profile"):
        S.seqvae_config("huge")
    with pytest.raises(ValueError, match="window"):
        S.make_windows(np.zeros((1, 10, 2)), np.zeros((1, 10), int), window=20)
    with pytest.raises(ValueError, match="x: expected shape"):
        S.SequenceVAE(8).encode(torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="n_motifs"):
        S.motif_bank(n_motifs=1)
    with pytest.raises(ValueError, match="given"):
        S.SequenceVAE(8, given=-1)
    with pytest.raises(ValueError, match="first: expected shape"):
        S.SequenceVAE(8, given=2).decode(torch.zeros(3, 8), torch.zeros(3, 1, 8), 5)


def test_postures_have_the_asked_norm_and_standardise_uses_train_statistics():
    bank = S.motif_bank(posture=0.7)
    np.testing.assert_allclose(np.linalg.norm(bank["offset"], axis=1), 0.7)
    x_train, _ = S.generate_sequences(3, 200, seed=1, split="train")
    x_test, _ = S.generate_sequences(2, 200, seed=1, split="test")
    z_train, z_test = S.standardise(x_train, x_test)
    flat = z_train.reshape(-1, 8)
    np.testing.assert_allclose(flat.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(0), 1, atol=1e-4)
    mean, std = x_train.reshape(-1, 8).mean(0), x_train.reshape(-1, 8).std(0)
    np.testing.assert_allclose(z_test, (x_test - mean) / (std + 1e-8), atol=1e-5)


def test_latent_is_the_mean_over_the_encoder_states_and_the_decoder_sees_the_first_pose():
    torch.manual_seed(0)
    model = S.SequenceVAE(8, hidden=16, latent=3, given=1).double().eval()
    x = torch.randn(4, 10, 8, dtype=torch.float64)
    states, _ = model.encoder(x)
    expected = model.to_stats(states.mean(1)).chunk(2, dim=1)[0]
    torch.testing.assert_close(model.encode(x)[0], expected)
    recon, mu, _ = model(x)
    assert recon.shape == x.shape
    # the reconstruction depends on the first pose given to the decoder, for the same z
    other = x[:, :1] + 1.0
    assert not torch.allclose(model.decode(mu, other, 10), recon)
    torch.testing.assert_close(model.decode(mu, x[:, :1], 10), recon)
    # given=0: the decoder unrolls from z alone
    plain = S.SequenceVAE(8, hidden=16, latent=3, given=0)
    assert plain(x.float())[0].shape == x.shape
