"""Problem clusters (举一反三): cases of one category in one place whose texts are alike are one
underlying problem, to be solved as a class and not only case by case. Chinese has no spaces
between words, so likeness is measured on character bigrams."""
import re

DEFAULT_WINDOW_DAYS = 30
DEFAULT_SIMILARITY = 0.35

_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)  # punctuation and white space, Chinese included


def bigrams(text):
    chars = _NOT_TEXT.sub("", text or "").lower()
    return {chars[i:i + 2] for i in range(len(chars) - 1)} or ({chars} if chars else set())


def similarity(a, b):
    """Sørensen–Dice likeness of two texts' character bigrams, 0 to 1 (kinder than Jaccard to
    two complaints of different length about the same thing)."""
    return _dice(bigrams(a), bigrams(b))


def _dice(x, y):
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def closest(text, candidates, threshold):
    """The candidate (a dict with `text`) most like `text`, if alike enough; else None."""
    mine = bigrams(text)  # once, not once per candidate
    scored = [(_dice(mine, bigrams(c["text"])), c) for c in candidates]
    best = max(scored, key=lambda sc: sc[0], default=(0.0, None))
    return best[1] if best[0] >= threshold else None


def policy(county):
    return (county.policies.get("cluster_window_days", DEFAULT_WINDOW_DAYS),
            county.policies.get("cluster_similarity", DEFAULT_SIMILARITY))
