"""Prompt DNA: tokenising, the Monroe et al. log-odds, and the suggested final prompt."""

from __future__ import annotations

import math

import pytest

from tierflow.domain.dna import DnaResult, DnaTerm, part_features, prompt_dna, suggest_prompt, tokenize
from tierflow.domain.errors import InvalidInput

KEPT = [
    "a red fox in the snow, golden hour, 35mm film",
    "red fox sitting in snow, golden hour, soft light",
    "a fox in fresh snow, golden hour, 35mm film, soft light",
    "red fox, snow, golden hour",
]
DISCARDED = [
    "a red fox in the snow, neon lights, cyberpunk",
    "a fox in snow, cyberpunk, 3d render",
    "red fox in the snow, neon lights, oversaturated",
    "fox, snow, 3d render, cyberpunk",
    "a fox in the snow, soft light, neon lights",
]


def test_tokenize_lowercases_drops_stop_words_weights_and_numbers_and_keeps_pairs():
    assert part_features("(Golden Hour:1.3)") == ["golden", "hour", "golden hour"]
    assert part_features("shot on 35mm film") == ["shot", "35mm", "film", "35mm film"]
    assert part_features("8 legs, 1.5") == ["legs"]
    # a feature counts once per prompt, pairs never cross a comma
    assert tokenize("red fox, fox, red, hour golden") == ["red", "fox", "red fox", "hour", "golden", "hour golden"]
    assert "fox golden" not in tokenize("a red fox, golden hour")


def test_kept_modifiers_score_positive_and_discarded_ones_negative():
    dna = prompt_dna(KEPT, DISCARDED, top=5)
    positive = [t.term for t in dna.positive]
    negative = [t.term for t in dna.negative]
    assert positive[:3] == ["golden hour", "35mm film", "soft light"]
    assert {"cyberpunk", "neon lights", "3d render"} <= set(negative)
    # words seen only inside one pair repeat its evidence and are folded into it
    assert not {"golden", "hour", "neon", "lights"} & set(positive + negative)
    golden = next(t for t in dna.positive if t.term == "golden hour")
    assert (golden.kept, golden.discarded, golden.modifier) == (4, 0, True)
    # the shared subject sits near zero: it says nothing about what gets kept
    everything = prompt_dna(KEPT, DISCARDED, top=100)
    fox = next(t for t in everything.positive + everything.negative if t.term == "fox")
    assert abs(fox.score) < abs(golden.score) / 2
    assert dna.to_dict()["kept_prompts"] == 4


def test_score_is_the_monroe_z_score_with_the_pooled_prior():
    # "golden hour": y_a = 4, y_b = 0, α_w = 4 (α_0 = pooled total); n_a, n_b = feature totals per side
    dna = prompt_dna(KEPT, DISCARDED, top=100)
    n_a = sum(len(set(tokenize(p))) for p in KEPT)
    n_b = sum(len(set(tokenize(p))) for p in DISCARDED)
    a0 = n_a + n_b
    alpha = 4 * a0 / a0
    delta = math.log((4 + alpha) / (n_a + a0 - 4 - alpha)) - math.log((0 + alpha) / (n_b + a0 - 0 - alpha))
    expected = delta / math.sqrt(1 / (4 + alpha) + 1 / alpha)
    golden = next(t for t in dna.positive if t.term == "golden hour")
    assert golden.score == pytest.approx(expected)


def test_min_count_and_top_limit():
    dna = prompt_dna(KEPT, DISCARDED, top=2)
    assert len(dna.positive) == 2 and len(dna.negative) == 2
    # "fresh snow" is in one prompt only: below min_count 2, not scored
    all_terms = prompt_dna(KEPT, DISCARDED, top=100)
    assert "fresh snow" not in {t.term for t in all_terms.positive + all_terms.negative}
    assert "fresh snow" in {t.term for t in prompt_dna(KEPT, DISCARDED, top=100, min_count=1).positive}


def test_suggest_prompt_adds_winning_modifiers_and_drops_losing_ones():
    dna = prompt_dna(KEPT, DISCARDED, top=5)
    suggested = suggest_prompt("a red fox in the snow, neon lights, golden hour", dna, max_add=2)
    parts = [p.strip() for p in suggested.split(",")]
    assert parts[0] == "a red fox in the snow"  # the subject always stays
    assert "neon lights" not in parts  # a top negative modifier goes
    assert parts.count("golden hour") == 1  # already there: not added twice
    assert "35mm film" in parts and "soft light" in parts
    assert "golden" not in parts and "film" not in parts  # single words covered by a pair are not added


def test_suggest_prompt_with_handmade_dna():
    dna = DnaResult(
        positive=[
            DnaTerm("dramatic", 3.0, 5, 0, True),
            DnaTerm("rim light", 2.0, 4, 0, True),
            DnaTerm("rim", 1.9, 4, 0, True),
            DnaTerm("castle", 1.5, 4, 1, False),  # a subject word: never tacked on
        ],
        negative=[DnaTerm("blurry", -2.0, 0, 4, True)],
    )
    assert suggest_prompt("a tower, blurry, dramatic", dna) == "a tower, dramatic, rim light"
    assert suggest_prompt("a tower", dna, max_add=1) == "a tower, dramatic"


def test_bad_input():
    with pytest.raises(InvalidInput) as err:
        prompt_dna([], DISCARDED)
    assert err.value.field == "kept"
    with pytest.raises(InvalidInput) as err:
        prompt_dna(KEPT, [])
    assert err.value.field == "discarded"
    with pytest.raises(InvalidInput) as err:
        prompt_dna(KEPT, DISCARDED, top=0)
    assert err.value.field == "top"
    with pytest.raises(InvalidInput) as err:
        suggest_prompt(" , ", DnaResult())
    assert err.value.field == "prompt"
