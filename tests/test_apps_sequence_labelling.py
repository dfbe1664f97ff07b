"""Generated tagging data: unseen names, homographs, scores, lookup baseline, BiLSTM smoke test."""

import numpy as np
import pytest

from rnnlib.apps import sequence_labelling as S

torch = pytest.importorskip("torch")


def _names(data, kind=None):
    return {w for toks, tags in zip(data["tokens"], data["ner"]) for w, t in zip(toks, tags)
            if t != "O" and (kind is None or t.endswith(kind))}


def test_deterministic_shapes_and_tags():
    a, b = S.generate_sentences(200, 5, "train"), S.generate_sentences(200, 5, "train")
    assert a == b and a != S.generate_sentences(200, 6, "train")
    for key in ("pos", "ner", "homograph"):
        assert all(len(x) == len(t) for x, t in zip(a[key], a["tokens"]))
    assert {t for s in a["pos"] for t in s} <= set(S.POS_TAGS)
    assert {t for s in a["ner"] for t in s} <= set(S.NER_TAGS)
    hom = [(w.lower(), p) for toks, pos, m in zip(a["tokens"], a["pos"], a["homograph"])
           for w, p, flag in zip(toks, pos, m) if flag]
    assert all(w in S.HOMOGRAPHS and p in ("NOUN", "VERB") for w, p in hom)
    nouns = np.mean([p == "NOUN" for _, p in hom])
    assert 0.55 < nouns < 0.78  # two thirds by design


def test_names_of_test_split_never_in_train():
    train, test = S.generate_sentences(1000, 0, "train"), S.generate_sentences(300, 1, "test")
    assert not _names(train) & _names(test)
    for kind in ("PER", "LOC"):
        assert all(S.name_split(kind, n) == "test" for n in _names(test, kind))
    with pytest.raises(ValueError, match="kind"):
        S.name_split("ORG", "Acme")


def test_entity_spans_and_f1():
    assert S.entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {(0, 2, "PER"), (3, 4, "LOC")}
    assert S.entity_spans(["I-PER", "O"]) == {(0, 1, "PER")}
    true = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert S.ner_f1(true, true)["f1"] == 1.0
    half = S.ner_f1(true, [["B-PER", "O", "O", "B-LOC"]])  # the person's span is cut short
    assert half["precision"] == 0.5 and half["recall"] == 0.5
    assert S.ner_f1(true, [["O"] * 4])["f1"] == 0.0
    with pytest.raises(ValueError, match="pred_seqs"):
        S.ner_f1(true, [])
    assert S.pos_accuracy([["A", "B"]], [["A", "C"]]) == 0.5
    with pytest.raises(ValueError, match="mask_seqs"):
        S.pos_accuracy([["A"]], [["A"]], [[False]])


def test_lookup_baseline_fails_on_unseen_names():
    train, test = S.generate_sentences(1000, 0, "train"), S.generate_sentences(300, 0, "test")
    tag = S.lookup_tagger(train)
    pos, ner = zip(*[tag(s) for s in test["tokens"]])
    assert S.ner_f1(test["ner"], list(ner))["f1"] == 0.0
    assert 0.55 < S.pos_accuracy(test["pos"], list(pos), test["homograph"]) < 0.78


def test_bilstm_shapes_training_smoke_and_errors():
    train = S.generate_sentences(300, 0, "train")
    vocabs = S.build_vocabs(train)
    torch.manual_seed(0)
    sizes = len(vocabs["word"]), len(vocabs["pos"]), len(vocabs["ner"])
    model = S.build_bilstm_tagger(*sizes, 8, 16)
    words, pos, ner, lengths = S.encode_sentences(train, vocabs)
    p, n = model(torch.from_numpy(words[:4]), torch.from_numpy(lengths[:4]))
    assert p.shape == (4, words.shape[1], len(vocabs["pos"])) and n.shape[-1] == len(vocabs["ner"])
    hist = S.train_tagger(model, train, vocabs, epochs=3, batch_size=32, lr=1e-2)
    assert hist["step_loss"][-1] < hist["step_loss"][0] / 2
    pos_pred, ner_pred = S.predict_tags(model, train, vocabs)
    assert [len(s) for s in pos_pred] == [len(s) for s in train["tokens"]]
    with pytest.raises(ValueError, match="word_dropout"):
        S.train_tagger(model, train, vocabs, epochs=1, batch_size=8, lr=1e-3, word_dropout=1.0)
    with pytest.raises(ValueError, match="hidden_dim"):
        S.build_bilstm_tagger(5, 3, 3, 4, 0)
    with pytest.raises(ValueError, match="split"):
        S.generate_sentences(3, 0, "dev")
