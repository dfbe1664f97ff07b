"""The captioning labs' torch code (rnnlib.captioning), on the CPU and fast.

Dataset: determinism, the grammar, the caption's agreement with the rendered geometry.
Models: shapes, the "inject" conditioning against its equation (and rnnlib's numpy LSTM step),
teacher forcing against step-by-step decoding. Decoding: greedy and beam search on toy models
with known probabilities, checked by brute-force enumeration. BLEU against hand-computed values.
Training: loss goes down, checkpoints round-trip, a resumed run equals an uninterrupted one.
"""

import itertools
import math
import re

import numpy as np
import pytest
import torch

import rnnlib
from rnnlib.captioning import (
    Vocabulary,
    beam_search,
    build_captioner,
    corpus_bleu,
    encode_dataset,
    evaluate_captioner,
    exact_match,
    generate_dataset,
    greedy_decode,
    images_to_tensor,
    load_checkpoint,
    make_splits,
    save_checkpoint,
    sentence_bleu,
    train_captioner,
    training,
)
from rnnlib.captioning import data as cdata
from rnnlib.captioning.profiles import FULL_TARGETS, lab_config

TINY = dict(channels=(4, 8, 8), image_dim=16, embed_dim=8, hidden_dim=16, attention_dim=8)
VOCAB = Vocabulary.for_shapes()


@pytest.fixture(autouse=True)
def few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- dataset

OBJECT = r"a (small|large) (red|green|blue|yellow|purple) (circle|square|triangle)"
RELATION = r"(above|below|left of|right of)"


def grammar(n_objects):
    return re.compile("^" + OBJECT + (" " + RELATION + " " + OBJECT) * (n_objects - 1) + "$")


def test_same_seed_same_data_and_splits_are_independent():
    a = generate_dataset(12, level=2, seed=5, split="test")
    b = generate_dataset(12, level=2, seed=5, split="test")
    assert np.array_equal(a.images, b.images) and a.captions == b.captions
    longer = generate_dataset(30, level=2, seed=5, split="test")
    assert longer.captions[:12] == a.captions, "a split's first scenes must not depend on its size"
    other = generate_dataset(12, level=2, seed=5, split="train")
    assert other.captions != a.captions, "train and test must come from different streams"
    splits = make_splits(10, 4, 6, levels=(1, 3), seed=5)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [20, 8, 12]
    assert splits["test"].captions[6:] == generate_dataset(6, 3, seed=5, split="test").captions
    assert sorted(splits["train"].levels.tolist()) == [1] * 10 + [3] * 10


@pytest.mark.parametrize("level", cdata.LEVELS)
def test_captions_follow_the_grammar_and_the_geometry(level):
    ds = generate_dataset(60, level=level, seed=1, split="val")
    assert ds.images.shape == (60, 32, 32, 3) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    pattern = grammar(level)
    for caption, scene in zip(ds.captions, ds.scenes):
        assert pattern.match(caption), f"caption outside the grammar: {caption!r}"
        objs = scene.objects
        assert len(objs) == level
        keys = [o.sort_key for o in objs]
        assert keys == sorted(keys) and len(set(keys)) == level, (
            "mention order or distinct objects broken"
        )
        assert len({(o.row, o.col) for o in objs}) == level, "two objects share a cell"
        for first, second in zip(objs[:-1], objs[1:]):
            rel = cdata.relation(first, second)
            dy, dx = second.cy - first.cy, second.cx - first.cx
            # jitter never moves a shape across its cell, so the pixel offsets agree with the cells
            if rel in ("above", "below"):
                assert abs(dy) > abs(dx), "vertical relation for a mostly horizontal offset"
                assert (dy > 0) == (rel == "above")
            else:
                assert abs(dx) > abs(dy), "horizontal relation for a mostly vertical offset"
                assert (dx > 0) == (rel == "left of")
            assert f"{first.phrase} {rel} {second.phrase}" in caption


def test_rendered_pixels_match_the_scene():
    ds = generate_dataset(40, level=3, seed=2, split="train")
    for image, scene in zip(ds.images, ds.scenes):
        occupied = np.zeros((3, 3), bool)
        for obj in scene.objects:
            centre = image[int(obj.cy), int(obj.cx)]
            assert np.allclose(centre, cdata.RGB[obj.colour], atol=1e-6), (
                f"centre of {obj.phrase} has {centre}"
            )
            occupied[obj.row, obj.col] = True
        cell = 32 / 3
        for r, c in zip(*np.nonzero(~occupied)):
            block = image[
                int(r * cell) + 1 : int((r + 1) * cell) - 1,
                int(c * cell) + 1 : int((c + 1) * cell) - 1,
            ]
            assert block.max() == 0.0, "an empty cell has coloured pixels"


def test_bounding_box_rendering_equals_full_grid_rendering():
    rng = np.random.default_rng(0)
    k = cdata.SUPERSAMPLE
    for _ in range(10):
        scene = cdata.sample_scene(rng, 3, 32)
        coords = (np.arange(32 * k) + 0.5) / k
        full = np.zeros((32 * k, 32 * k, 3), np.float32)
        for obj in scene.objects:
            full[cdata._shape_mask(obj, coords[:, None], coords[None, :])] = cdata.RGB[obj.colour]
        full = full.reshape(32, k, 32, k, 3).mean(axis=(1, 3))
        assert np.allclose(cdata.render_scene(scene), full, atol=1e-7)


def test_shapes_are_told_apart_by_their_pixels():
    # the same scene drawn as circle, square and triangle covers different amounts of colour
    base = cdata.ShapeObject("large", "red", "circle", 1, 1, 16.0, 16.0, 4.5)
    areas = {}
    for shape in cdata.SHAPES:
        obj = cdata.ShapeObject(base.size, base.colour, shape, 1, 1, base.cy, base.cx, base.radius)
        areas[shape] = cdata.render_scene(cdata.Scene((obj,), 32))[..., 0].sum() / 0.9
    assert areas["triangle"] < areas["square"] < areas["circle"] + 30
    # 3 x 3 samples per pixel, boundaries included: areas within 10 % of the exact ones
    assert abs(areas["circle"] / (math.pi * 4.5**2) - 1) < 0.1, "circle area off"
    assert abs(areas["square"] / (2 * 0.85 * 4.5) ** 2 - 1) < 0.1, "square area off"
    assert abs(areas["triangle"] / (4.5 * 9) - 1) < 0.1, "triangle area off"


def test_noise_level_and_errors():
    clean = generate_dataset(5, 1, seed=0, noise=0.0)
    noisy = generate_dataset(5, 1, seed=0, noise=0.1)
    assert noisy.captions == clean.captions
    assert 0.03 < np.abs(noisy.images - clean.images).mean() < 0.12
    with pytest.raises(ValueError, match="level"):
        generate_dataset(3, 4)
    with pytest.raises(ValueError, match="split"):
        generate_dataset(3, 1, split="dev")


def test_vocabulary_round_trip():
    ds = generate_dataset(20, 3, seed=3)
    tokens = VOCAB.encode_batch(ds.captions)
    assert tokens.dtype == np.int64 and tokens[:, 0].tolist() == [VOCAB.start_id] * 20
    assert [VOCAB.decode(row) for row in tokens] == ds.captions
    assert (tokens == VOCAB.unk_id).sum() == 0, "the grammar produced a word outside the vocabulary"
    assert (
        len(VOCAB) == 4 + 1 + 2 + 5 + 3 + 5
    )  # specials, a, sizes, colours, shapes, relation words
    with pytest.raises(ValueError, match="length"):
        VOCAB.encode_batch(ds.captions, length=3)


# ---------------------------------------------------------------- models


@pytest.mark.parametrize("kind", ["inject", "first_input", "attention"])
def test_shapes_and_teacher_forcing_equals_stepping(kind):
    torch.manual_seed(0)
    model = build_captioner(kind, len(VOCAB), **TINY).eval()
    ds = generate_dataset(3, 2, seed=0)
    images, tokens = encode_dataset(ds, VOCAB)
    assert images.shape == (3, 3, 32, 32)
    fmap, v = model.encode(images)
    assert fmap.shape == (3, 8, 8, 8) and v.shape == (3, 16)
    logits, aux = model(images, tokens[:, :-1])
    assert logits.shape == (3, tokens.shape[1] - 1, len(VOCAB))
    state = model.decoder.init_state(model.encode(images))
    for t in range(tokens.shape[1] - 1):
        step_logits, state, step_aux = model.decoder.step(tokens[:, t], state)
        assert torch.allclose(step_logits, logits[:, t], atol=1e-5), (
            f"step {t} differs from teacher forcing"
        )
    if kind == "attention":
        alphas = aux["alphas"]
        assert alphas.shape == (3, tokens.shape[1] - 1, 64)
        assert torch.allclose(alphas.sum(-1), torch.ones(3, tokens.shape[1] - 1), atol=1e-5)
        assert (alphas >= 0).all()


def test_inject_conditioning_is_the_lecture_equation():
    """a = x W_x + h W_h + v W_i + b, gates (i, f, g, o): by hand and with rnnlib's LSTM step."""
    torch.manual_seed(1)
    model = build_captioner("inject", len(VOCAB), **TINY).eval()
    dec = model.decoder
    n, E, I, H = 4, 8, 16, 16
    gen = torch.Generator().manual_seed(0)
    h, c = torch.randn(n, H, generator=gen), torch.randn(n, H, generator=gen)
    v = torch.rand(n, I, generator=gen)
    tokens = torch.tensor([4, 7, 12, 19])
    _, (h_new, c_new, _), _ = dec.step(tokens, (h, c, v))

    def f64(t):
        return t.detach().double().numpy()

    W = f64(dec.lstm.weight_ih_l0)  # (4H, E + I), torch's column layout
    Wx, Wi, Wh = W[:, :E].T, W[:, E:].T, f64(dec.lstm.weight_hh_l0).T
    b = f64(dec.lstm.bias_ih_l0 + dec.lstm.bias_hh_l0)
    x = f64(dec.embed(tokens))
    a = x @ Wx + f64(h) @ Wh + f64(v) @ Wi + b
    def sig(z):
        return 1 / (1 + np.exp(-z))

    i, f, g, o = (
        sig(a[:, :H]),
        sig(a[:, H : 2 * H]),
        np.tanh(a[:, 2 * H : 3 * H]),
        sig(a[:, 3 * H :]),
    )
    c_hand = f * f64(c) + i * g
    h_hand = o * np.tanh(c_hand)
    assert np.abs(h_hand - f64(h_new)).max() < 1e-5, "inject step is not x Wx + h Wh + v Wi + b"
    assert np.abs(c_hand - f64(c_new)).max() < 1e-5

    h_lib, c_lib, _ = rnnlib.lstm_step_forward(
        np.concatenate([x, f64(v)], axis=1), f64(h), f64(c), W.T, Wh, b
    )
    assert rnnlib.rel_error(h_lib, h_hand) < 1e-12 and rnnlib.rel_error(c_lib, c_hand) < 1e-12


def test_first_input_reads_the_image_before_start():
    torch.manual_seed(2)
    model = build_captioner("first_input", len(VOCAB), **TINY).eval()
    images = images_to_tensor(generate_dataset(2, 1).images)
    fmap, v = model.encode(images)
    h, c, _ = model.decoder.init_state((fmap, v))
    x0 = model.decoder.image_to_input(v).unsqueeze(1)
    _, (h_ref, c_ref) = model.decoder.lstm(x0)
    assert torch.allclose(h, h_ref[0]) and torch.allclose(c, c_ref[0])
    other = images.flip(0)
    logits_a, _ = model(images, torch.full((2, 1), VOCAB.start_id))
    logits_b, _ = model(other, torch.full((2, 1), VOCAB.start_id))
    assert not torch.allclose(logits_a, logits_b), "the first word does not depend on the image"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="decoder"):
        build_captioner("transformer", 10)
    with pytest.raises(ValueError, match="conditioning"):
        rnnlib.captioning.LSTMDecoder(10, 4, conditioning="late")
    with pytest.raises(ValueError, match="image_size"):
        build_captioner("inject", 10, image_size=30)


# ---------------------------------------------------------------- decoding on toy models

PAD, START, END, W1, W2 = 0, 1, 2, 3, 4


class ToyTree:
    """A 'decoder' whose next-token distribution is a fixed table indexed by the caption so far.

    The state is the code of the prefix of words emitted so far; <end> leads to a sink that can
    only emit <end>. ``probs[prefix]`` gives (p_end, p_w1, p_w2) after ``prefix``.
    """

    def __init__(self, probs, max_len):
        prefixes = [p for L in range(max_len + 1) for p in itertools.product((W1, W2), repeat=L)]
        self.code = {p: i for i, p in enumerate(prefixes)}
        sink = len(prefixes)
        self.logits = torch.full((sink + 1, 5), float("-inf"))
        self.child = torch.full((sink + 1, 5), sink, dtype=torch.long)
        for p, i in self.code.items():
            p_end, p_w1, p_w2 = probs(p)
            self.logits[i, [END, W1, W2]] = torch.log(
                torch.tensor([p_end, p_w1, p_w2], dtype=torch.float32)
            )
            self.child[i, START] = i
            for w in (W1, W2):
                if len(p) < max_len:
                    self.child[i, w] = self.code[p + (w,)]
        self.logits[sink, END] = 0.0
        self.probs = probs

    def init_state(self, images):
        return (torch.zeros(images.shape[0], dtype=torch.long),)

    def step(self, tokens, state):
        code = self.child[state[0], tokens]
        return self.logits[code], (code,), {}

    def model(self):
        return (self.init_state, self.step)

    def brute_force(self, max_len):
        """The most probable caption (words + <end>, or max_len words) and its log probability."""
        best = (float("-inf"), None)
        for L in range(max_len + 1):
            for words in itertools.product((W1, W2), repeat=L):
                logp = sum(
                    math.log(self.probs(words[:k])[1 + (w == W2)]) for k, w in enumerate(words)
                )
                seq = list(words)
                if L < max_len:
                    logp += math.log(self.probs(words)[0])
                    seq.append(END)
                best = max(best, (logp, seq), key=lambda b: b[0])
        return best


def words_of(row):
    row = row.tolist()
    return row[: row.index(END) + 1] if END in row else row


def test_greedy_follows_the_most_probable_word():
    table = {(): (0.1, 0.5, 0.4), (W1,): (0.34, 0.33, 0.33), (W2,): (0.9, 0.05, 0.05)}
    toy = ToyTree(lambda p: table.get(p, (1.0 - 2e-6, 1e-6, 1e-6)), max_len=4)
    greedy = greedy_decode(toy.model(), torch.zeros(1, 1), START, END, max_len=4)
    assert words_of(greedy[0]) == [W1, END]
    beam1 = beam_search(toy.model(), torch.zeros(1, 1), START, END, beam_size=1, max_len=4)
    assert words_of(beam1[0]) == [W1, END], "beam 1 must equal greedy"
    # greedy's 0.5 * 0.34 = 0.17 loses to 0.4 * 0.9 = 0.36, which a beam of 2 keeps
    seqs, scores = beam_search(
        toy.model(), torch.zeros(1, 1), START, END, beam_size=2, max_len=4, return_scores=True
    )
    assert words_of(seqs[0]) == [W2, END]
    assert abs(float(scores[0]) - math.log(0.36)) < 1e-5


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_finds_the_best_caption_on_random_toys(seed):
    rng = np.random.default_rng(seed)
    max_len = 4
    cache = {}

    def probs(prefix):
        if prefix not in cache:
            cache[prefix] = tuple(rng.dirichlet([0.6, 0.6, 0.6]) * 0.999 + 0.001 / 3)
        return cache[prefix]

    for L in range(max_len + 1):  # draw the whole table up front, in a fixed order
        for p in itertools.product((W1, W2), repeat=L):
            probs(p)
    toy = ToyTree(probs, max_len)
    best_logp, best_seq = toy.brute_force(max_len)
    images = torch.zeros(3, 1)  # three identical 'images' decode in one batch
    # 31 hypotheses exist in all, so a beam of 32 is exhaustive and must find the optimum
    seqs, scores = beam_search(
        toy.model(), images, START, END, beam_size=32, max_len=max_len, return_scores=True
    )
    for row, score in zip(seqs, scores):
        assert words_of(row) == best_seq
        assert abs(float(score) - best_logp) < 1e-4
    greedy = greedy_decode(toy.model(), images, START, END, max_len)
    beam1 = beam_search(toy.model(), images, START, END, beam_size=1, max_len=max_len)
    assert [words_of(r) for r in greedy] == [words_of(r) for r in beam1]


def test_beam_search_on_a_real_model_scores_what_it_returns():
    torch.manual_seed(3)
    model = build_captioner("attention", len(VOCAB), **TINY).eval()
    images = images_to_tensor(generate_dataset(4, 2, seed=9).images)
    greedy = greedy_decode(model, images, VOCAB.start_id, VOCAB.end_id, max_len=7)
    beam1 = beam_search(model, images, VOCAB.start_id, VOCAB.end_id, beam_size=1, max_len=7)
    assert torch.equal(greedy, beam1)
    seqs, scores = beam_search(
        model, images, VOCAB.start_id, VOCAB.end_id, beam_size=4, max_len=7, return_scores=True
    )
    # rescore the returned captions by teacher forcing
    inputs = torch.cat([torch.full((4, 1), VOCAB.start_id), seqs[:, :-1]], dim=1)
    logp = torch.log_softmax(model(images, inputs)[0], -1).gather(2, seqs.unsqueeze(-1)).squeeze(-1)
    alive = torch.ones_like(logp, dtype=torch.bool)
    alive[:, 1:] = (seqs[:, :-1] != VOCAB.end_id).cumprod(dim=1).bool()
    assert torch.allclose((logp * alive).sum(1), scores, atol=1e-4)


def test_greedy_returns_attention_maps():
    torch.manual_seed(4)
    model = build_captioner("attention", len(VOCAB), **TINY).eval()
    images = images_to_tensor(generate_dataset(2, 1).images)
    seqs, alphas = greedy_decode(
        model, images, VOCAB.start_id, VOCAB.end_id, 5, return_attention=True
    )
    assert alphas.shape == (2, seqs.shape[1], 64)
    _, none = greedy_decode(
        build_captioner("inject", len(VOCAB), **TINY).eval(),
        images,
        VOCAB.start_id,
        VOCAB.end_id,
        5,
        return_attention=True,
    )
    assert none is None


# ---------------------------------------------------------------- metrics


def test_bleu_hand_computed():
    assert corpus_bleu(["a red circle"], ["a red circle"], max_n=3) == pytest.approx(1.0)
    # p1 = 3/4, p2 = 1/3, p3 = 0
    assert corpus_bleu(["a small red circle"], ["a large red circle"], max_n=2) == pytest.approx(
        0.5
    )
    assert corpus_bleu(["a small red circle"], ["a large red circle"]) == 0.0
    # brevity: c = 3, r = 4, p1 = 1, p2 = 1/2
    assert corpus_bleu(["a red circle"], ["a small red circle"], max_n=2) == pytest.approx(
        math.exp(1 - 4 / 3) * math.sqrt(0.5)
    )
    # clipping: "the" counts at most once
    assert corpus_bleu(["the the the the"], ["the cat"], max_n=1) == pytest.approx(0.25)
    # corpus statistics are pooled, not averaged: p1 = 6/7, p2 = 3/5
    hyps = ["a red circle", "a small blue square"]
    refs = ["a red circle", "a large blue square"]
    assert corpus_bleu(hyps, refs, max_n=2) == pytest.approx(math.sqrt(6 / 7 * 3 / 5))
    # several references: n-grams clipped by the best one, length of the closest (shorter on ties)
    assert corpus_bleu(["a b c"], [["a b", "a b c d"]], max_n=1) == pytest.approx(1.0)
    assert corpus_bleu(["a b c"], [["a b c d"]], max_n=1) == pytest.approx(math.exp(1 - 4 / 3))
    # add-one smoothing of n >= 2: (3/4 * 2/4 * 1/3 * 1/2) ** (1/4) = 0.5
    assert sentence_bleu("a small red circle", "a large red circle") == pytest.approx(0.5)
    assert corpus_bleu([""], ["a"]) == 0.0


def test_exact_match():
    assert exact_match(["a b", "a c", "x"], ["a b", "a b", "x"]) == pytest.approx(2 / 3)
    assert exact_match(["a c"], [["a b", "a c"]]) == 1.0
    with pytest.raises(ValueError, match="references"):
        exact_match(["a"], [])


def test_attention_on_objects_attributes_words_to_objects():
    from rnnlib.captioning.metrics import attention_on_objects

    ds = generate_dataset(5, 2, seed=6)
    grid = 8
    captions, alphas = [], []
    for scene in ds.scenes:
        words = scene.caption.split()
        maps, k = [], -1
        for w in words:  # all mass on the centre location of the object the word belongs to
            k += w == "a"
            obj = scene.objects[max(k, 0)]
            m = np.zeros((grid, grid))
            m[int(obj.cy / 32 * grid), int(obj.cx / 32 * grid)] = 1.0
            maps.append(m.ravel())
        captions.append(scene.caption)
        alphas.append(maps)
    result = attention_on_objects(captions, alphas, ds.scenes, grid)
    assert len(result["shape"]) == 10 and len(result["a"]) == 10
    assert all(mass == 1.0 and 0 < base < 0.3 for mass, base in result["colour"])
    uniform = [[np.full(grid * grid, 1 / grid**2)] * len(c.split()) for c in captions]
    result = attention_on_objects(captions, uniform, ds.scenes, grid)
    assert all(abs(mass - base) < 1e-12 for mass, base in result["size"])
    wrong = attention_on_objects(["a small red circle"] * 5, alphas, ds.scenes, grid)
    assert all(len(v) == 0 for v in wrong.values()), "wrong captions must be skipped"


def test_evaluate_reports_each_level(monkeypatch):
    ds = make_splits(1, 1, 4, levels=(1, 2), seed=0)["test"]
    wrong = {0, 5, 6}  # one of level 1, two of level 2
    preds = [("a large red circle" if i in wrong else c) for i, c in enumerate(ds.captions)]
    monkeypatch.setattr(training, "caption_images", lambda *a, **k: preds)
    result = evaluate_captioner(None, ds, VOCAB)
    assert result["by_level"][1]["exact_match"] == pytest.approx(3 / 4)
    assert result["by_level"][2]["exact_match"] == pytest.approx(2 / 4)
    assert result["exact_match"] == pytest.approx(5 / 8)
    assert result["by_level"][2]["n"] == 4


# ---------------------------------------------------------------- training and checkpoints


@pytest.mark.parametrize("kind", ["inject", "attention"])
def test_training_reduces_the_loss(kind):
    torch.manual_seed(0)
    model = build_captioner(kind, len(VOCAB), **TINY)
    train = generate_dataset(96, 1, seed=0)
    history = train_captioner(
        model, train, VOCAB, epochs=8, batch_size=16, lr=1e-2, progress=False, amp=True
    )  # amp is ignored on the CPU
    first, last = history["train_loss"][0], history["train_loss"][-1]
    assert last < 0.6 * first, f"loss {first:.3f} -> {last:.3f}"
    assert history["epochs"] == 8 and len(history["step_loss"]) == 48
    assert not model.training, "train_captioner leaves the model in eval mode"


def test_frozen_encoder_does_not_change():
    torch.manual_seed(0)
    model = build_captioner("first_input", len(VOCAB), **TINY)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    train_captioner(
        model,
        generate_dataset(32, 1),
        VOCAB,
        epochs=1,
        batch_size=16,
        progress=False,
        freeze_encoder=True,
        val=generate_dataset(8, 1, split="val"),
    )
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), f"frozen encoder changed: {k}"


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_captioner("attention", len(VOCAB), **TINY).eval()
    path = save_checkpoint(
        tmp_path / "m.pt", model, epoch=3, history={"train_loss": [1.0]}, vocab=VOCAB
    )
    restored, state = load_checkpoint(path)
    assert (
        state["epoch"] == 3
        and state["vocab"] == VOCAB.tokens
        and state["history"]["train_loss"] == [1.0]
    )
    assert list(state["model"]) == list(model.state_dict()), "the checkpoint must hold every weight"
    assert restored.config == model.config
    images = images_to_tensor(generate_dataset(2, 2).images)
    tokens = torch.tensor([[1, 4, 5], [1, 4, 6]])
    assert torch.equal(restored.eval()(images, tokens)[0], model(images, tokens)[0])
    assert not list(tmp_path.glob("*.tmp")), "a temporary file was left behind"


def test_resumed_training_equals_uninterrupted(tmp_path):
    train = generate_dataset(48, 1, seed=4)
    kwargs = dict(epochs=3, batch_size=16, lr=5e-3, progress=False, seed=2)

    torch.manual_seed(0)
    straight = build_captioner("inject", len(VOCAB), **TINY)
    h_straight = train_captioner(straight, train, VOCAB, **kwargs)

    torch.manual_seed(0)
    first = build_captioner("inject", len(VOCAB), **TINY)
    train_captioner(first, train, VOCAB, checkpoint=tmp_path / "run.pt", until_epoch=2, **kwargs)
    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = build_captioner("inject", len(VOCAB), **TINY)
    h_resumed = train_captioner(
        resumed, train, VOCAB, checkpoint=tmp_path / "run.pt", resume=True, **kwargs
    )

    assert h_resumed["step_loss"] == pytest.approx(h_straight["step_loss"], rel=1e-5)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), f"{name} differs after resuming"


def test_progress_modes(capsys, monkeypatch):
    train = generate_dataset(16, 1)
    model = build_captioner("inject", len(VOCAB), **TINY)
    train_captioner(model, train, VOCAB, epochs=1, batch_size=8, progress="text")
    assert "training" in capsys.readouterr().out, "a text progress bar goes to stdout"
    monkeypatch.setenv(training.PROGRESS_ENV, "off")
    train_captioner(model, train, VOCAB, epochs=1, batch_size=8, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "", "RNNLIB_PROGRESS=off silences the bar"
    with pytest.raises(ValueError, match="progress"):
        train_captioner(model, train, VOCAB, epochs=1, progress="fancy")


def test_default_checkpoint_dir_is_ignored_by_git(monkeypatch, tmp_path):
    monkeypatch.delenv(training.CHECKPOINT_ENV, raising=False)
    path = training.default_checkpoint_dir()
    assert path.name in ("checkpoints", "rnnlib-checkpoints") and path.is_dir()
    gitignore = path.parent / ".gitignore"
    if path.name == "checkpoints" and gitignore.is_file():
        assert "/checkpoints/" in gitignore.read_text().split(), "checkpoints/ must be git-ignored"
    monkeypatch.setenv(training.CHECKPOINT_ENV, str(tmp_path / "ck"))
    assert training.default_checkpoint_dir() == tmp_path / "ck"


# ---------------------------------------------------------------- profiles


@pytest.mark.parametrize("lab", ["lab1", "lab2"])
@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_profiles_build_models_that_run(lab, profile):
    cfg = lab_config(lab, profile)
    kind = "attention" if lab == "lab2" else "inject"
    model = build_captioner(kind, len(VOCAB), image_size=cfg["image_size"], **cfg["model"]).eval()
    images = images_to_tensor(generate_dataset(2, 1, image_size=cfg["image_size"]).images)
    logits, _ = model(images, torch.tensor([[1, 4], [1, 4]]))
    assert logits.shape == (2, 2, len(VOCAB))
    assert set(FULL_TARGETS[lab]) == set(lab_config(lab, "full")["levels"])
    with pytest.raises(ValueError, match="profile"):
        lab_config(lab, "medium")
