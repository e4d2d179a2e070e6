"""Count prompt tokens without the model's tokenizer: a documented, deliberately high approximation.

Nothing here can download a tokenizer (no network; the Llama tokenizer files are under Meta's licence and no small,
clean PyPI package ships them), so the context-window check estimates. The text is split the way Llama 3's
pre-tokenizer splits it (words with their leading space, runs of at most three digits, punctuation runs, newlines);
each piece then counts as the number of byte-pair tokens a 128k-entry vocabulary typically needs for it:

- a word of ASCII letters: one token per `ASCII_CHARS_PER_TOKEN` letters, at least one (common words are single
  tokens; long and rare words split into pieces of about this size); acronyms and CamelCase words (an upper-case
  letter after the first) one per `ACRONYM_CHARS_PER_TOKEN`;
- a word with non-ASCII letters: one token per `NON_ASCII_BYTES_PER_TOKEN` UTF-8 bytes (accented Latin, Cyrillic, CJK
  and emoji cost more tokens per character);
- up to three digits: one token (Llama 3 splits numbers exactly this way);
- punctuation: one token per `PUNCTUATION_CHARS_PER_TOKEN` characters; whitespace and newline runs: one token.

Measured against the real Llama 3 tokenizer (tiktoken with Meta's `tokenizer.model`, outside this repository; see
the README's neuronctl section) the estimate is high by 9-18 % on English prose and Markdown, 10-20 % on Python and
YAML, and 6 % on the shipped few-shot prompt (142 for 134): for English the check errs on refusing a prompt that
would just fit.
Short technical strings full of acronyms can come out a few tokens low (25 real vs 22 estimated on a 90-character
sentence), which `SAFETY_MARGIN` covers; German prose is about 13 % low: for other languages pass a larger
`--token-margin`. `SAFETY_MARGIN` also covers the chat template and special tokens the server adds.
"""

from __future__ import annotations

import math
import re

ASCII_CHARS_PER_TOKEN = 7
ACRONYM_CHARS_PER_TOKEN = 4
NON_ASCII_BYTES_PER_TOKEN = 2
PUNCTUATION_CHARS_PER_TOKEN = 3
SAFETY_MARGIN = 8  # begin-of-text, header and end-of-turn tokens of a chat template
METHOD = (
    "estimate: Llama-3-style pre-tokenization, ~7 ASCII letters (4 in acronyms) or 2 non-ASCII bytes per token "
    "(errs high; see neuronctl/tokens.py)"
)

SHORT_METHOD = "estimated high, see neuronctl/tokens.py"

_PIECES = re.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)"""  # English contractions
    r"""|[^\r\n\w]?[^\W\d_]+"""  # a word with an optional leading space or symbol
    r"""|\d{1,3}"""  # numbers, three digits at a time
    r"""| ?(?:[^\s\w]|_)+[\r\n]*"""  # punctuation runs
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""  # newlines and other whitespace
)


def _piece_tokens(piece: str) -> int:
    core = piece.strip()
    if not core:
        return 1
    letters = core.lstrip("".join(ch for ch in core if not ch.isalpha()))
    if letters and letters.isalpha():
        if letters.isascii():
            # acronyms and CamelCase (HBM, GiB, NeuronCore) are rare in the vocabulary: they split finely
            per_token = ACRONYM_CHARS_PER_TOKEN if any(ch.isupper() for ch in letters[1:]) else ASCII_CHARS_PER_TOKEN
            return max(1, math.ceil(len(letters) / per_token)) + (len(core) > len(letters))
        return max(1, math.ceil(len(letters.encode()) / NON_ASCII_BYTES_PER_TOKEN)) + (len(core) > len(letters))
    if core.isdigit():
        return 1
    return max(1, math.ceil(len(core) / PUNCTUATION_CHARS_PER_TOKEN))


def estimate_tokens(text: str) -> int:
    """Tokens the text will take, estimated high (without the safety margin)."""
    return sum(_piece_tokens(piece) for piece in _PIECES.findall(text))
