"""Generated reviews: the grammar's rules, split disjointness, baseline and GRU/LSTM smoke tests."""

import numpy as np
import pytest

from rnnlib.apps import sentence_classification as S

torch = pytest.importorskip("torch")


def _polarity(clause: str) -> int:
    words = clause.split()
    pol = 1 if any(w in S.POSITIVE for w in words) else -1
    return -pol if any(w in S.NEGATORS for w in words) else pol


def _label_by_rule(text: str) -> int:
    body = text[:-2]
    if body.startswith("although "):
        decider = body[len("although "):].split(" , ")[1]
    elif " , although " in body:
        decider = body.split(" , although ")[0]
    elif " but " in body:
        decider = body.split(" but ")[1]
    else:
        decider = body.split(" and ")[0]
    return int(_polarity(decider) > 0)


def test_deterministic_and_labels_follow_rules():
    a, b = S.generate_reviews(300, 3, "train"), S.generate_reviews(300, 3, "train")
    assert a.texts == b.texts and np.array_equal(a.labels, b.labels)
    assert a.texts != S.generate_reviews(300, 4, "train").texts
    assert all(_label_by_rule(t) == y for t, y in zip(a.texts, a.labels))
    assert 0.4 < a.labels.mean() < 0.6 and set(a.forms) == set(S.FORMS)


def test_splits_disjoint():
    train = set(S.generate_reviews(2000, 0, "train").texts)
    test = S.generate_reviews(500, 1, "test").texts
    assert len(set(test)) == len(test) and not train & set(test)
    assert all(S.split_of(t) == "test" for t in test)


def test_encoding_shapes_and_errors():
    vocab = S.ReviewVocab()
    texts = ["the plot was good .", "the music was not dull but the cast was bad ."]
    ids, lengths = S.encode_batch(texts, vocab)
    assert ids.shape == (2, 11) and list(lengths) == [5, 11] and ids[0, 5:].sum() == 0
    assert 1 not in ids  # every word of the grammar is in the vocabulary
    bow = S.bag_of_words(["the plot was good .", "good good ."], vocab)
    assert bow.shape == (2, len(vocab)) and bow[1, vocab.stoi["good"]] == 2
    with pytest.raises(ValueError, match="split"):
        S.generate_reviews(5, 0, "dev")
    with pytest.raises(ValueError, match="n"):
        S.generate_reviews(0, 0, "train")
    with pytest.raises(ValueError, match="cell"):
        S.build_classifier(10, cell="rnn")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_does_not_change_prediction_and_training_smoke(cell):
    vocab = S.ReviewVocab()
    torch.manual_seed(0)
    model = S.build_classifier(len(vocab), 8, 16, cell)
    short = "the plot was good ."
    alone = model(*map(torch.from_numpy, S.encode_batch([short], vocab)))
    ids, lengths = S.encode_batch([short, short + " and the cast was great"], vocab)
    padded = model(torch.from_numpy(ids), torch.from_numpy(lengths))
    assert torch.allclose(alone[0], padded[0], atol=1e-6)
    train = S.generate_reviews(256, 0, "train")
    hist = S.train_classifier(model, train, vocab, epochs=4, batch_size=32, lr=1e-2)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert S.predict(model, train.texts[:7], vocab).shape == (7,)
    assert S.running_sentiment(model, short, vocab).shape == (5,)


def test_bow_baseline_runs():
    vocab = S.ReviewVocab()
    train, test = S.generate_reviews(400, 0, "train"), S.generate_reviews(100, 0, "test")
    pred = S.bow_baseline(train, test, vocab)
    assert pred.shape == (100,) and set(np.unique(pred)) <= {0, 1}
