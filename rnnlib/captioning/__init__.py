"""Image captioning on procedurally generated shape scenes (torch; the labs of Chapter 5).

Modules: ``data`` (scenes, rendering, grammar, splits), ``vocab``, ``models`` (CNN encoder and
the "inject", "first_input" and attention decoders), ``decoding`` (greedy, beam search),
``metrics`` (BLEU, exact match), ``training`` (teacher forcing, checkpoints, evaluation),
``profiles`` (the labs' smoke and full settings), ``plotting`` and ``device`` (device, run
profile and seeds; imported first, so that importing it before torch sets torch's OpenMP
threads to wait passively).
"""

from . import device  # noqa: F401, I001  (first: it must run before any module imports torch)
from .data import (
    CaptionDataset,
    Scene,
    ShapeObject,
    caption_scene,
    generate_dataset,
    make_splits,
    render_scene,
    sample_scene,
)
from .decoding import beam_search, greedy_decode, tokens_to_captions
from .metrics import corpus_bleu, exact_match, sentence_bleu
from .models import (
    AttentionDecoder,
    CNNEncoder,
    ImageCaptioner,
    LSTMDecoder,
    build_captioner,
    images_to_tensor,
    sequence_loss,
)
from .training import (
    caption_images,
    default_checkpoint_dir,
    encode_dataset,
    evaluate_captioner,
    load_checkpoint,
    save_checkpoint,
    train_captioner,
)
from .vocab import Vocabulary

__all__ = [
    "AttentionDecoder",
    "CNNEncoder",
    "CaptionDataset",
    "ImageCaptioner",
    "LSTMDecoder",
    "Scene",
    "ShapeObject",
    "Vocabulary",
    "beam_search",
    "build_captioner",
    "caption_images",
    "caption_scene",
    "corpus_bleu",
    "default_checkpoint_dir",
    "encode_dataset",
    "evaluate_captioner",
    "exact_match",
    "generate_dataset",
    "greedy_decode",
    "images_to_tensor",
    "load_checkpoint",
    "make_splits",
    "render_scene",
    "sample_scene",
    "save_checkpoint",
    "sentence_bleu",
    "sequence_loss",
    "tokens_to_captions",
    "train_captioner",
]
