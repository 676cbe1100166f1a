"""A CLIP BPE tokenizer whose vocabulary and merges tierflow writes itself (no hub download)."""

from __future__ import annotations

import json
from pathlib import Path

# Frequent English pairs, so prompts tokenize into a few sub-words rather than bare letters.
_MERGES = [
    ("t", "h"), ("e", "r"), ("i", "n"), ("a", "n"), ("o", "n"), ("r", "e"), ("e", "n</w>"),
    ("th", "e</w>"), ("n", "g</w>"), ("i", "ng</w>"), ("a", "t"), ("o", "r"), ("e", "s</w>"),
    ("s", "t"), ("a", "r"), ("l", "i"), ("g", "h"), ("c", "o"), ("e", "d</w>"),
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte-to-printable-character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_clip_tokenizer(folder: Path, max_length: int = 77) -> int:
    """Write ``vocab.json``, ``merges.txt`` and the tokenizer config; return the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab_list = chars + [c + "</w>" for c in chars]
    for a, b in _MERGES:
        vocab_list.append(a + b)
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges = "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in _MERGES) + "\n"
    (folder / "merges.txt").write_text(merges)
    from transformers import CLIPTokenizer

    # transformers 5 takes the vocabulary and merges themselves (it ignores *_file arguments).
    tok = CLIPTokenizer(
        vocab=vocab,
        merges=list(_MERGES),
        model_max_length=max_length,
        pad_token="<|endoftext|>",
    )
    if tok.tokenize("the")[0] == tok.unk_token:  # pragma: no cover - guards a library API change
        raise RuntimeError("the tiny CLIP tokenizer did not take its vocabulary")
    tok.save_pretrained(folder)
    return len(vocab)
