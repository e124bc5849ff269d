"""How the plain-language summaries (``aim.analysis.summary``, ``aim.analysis.run_summary``) say things: a variant's
name, numbers, p-values, parameter counts, what EDS cut, the significance rule in words, and the sentence on the
planted interactions that both a study's and a run's summary carry. Plain text, no Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from aim import variants
from aim.study.stats import SIGNIFICANCE

PAPER_RATIO = 1.31  # paper Table 7 (Avazu): AIM 3.8 vs DeepFM 2.9 (×10^7 parameters)
PAPER_SIZE = "the paper's AIM is 1.31× DeepFM's size (Table 7, Avazu: 3.8 vs 2.9 ×10⁷ parameters)"
SPEED_CAVEAT = ("timed in study runs that shared the machine, so noisy: the benchmark (bench/, docs/benchmarks.md) "
                "is the place for speed")
STUDY_COMMAND = "python -m aim study --dataset {dataset} --seeds 5"


def name(variant: str) -> str:
    """How a sentence names a variant: AIM and the baselines by the names people know (DeepFM, xDeepFM, LR, ...,
    ``aim.variants``); AIM's ablations and the transfer rows keep their token (aim-eds, deepfm-transfer)."""
    known = variants.REGISTRY.get(variant)
    return known.label if known is not None and (known.baseline or known.name == "aim") else variant


def _as_float(x: Any) -> float | None:
    """``x`` as a float, or None when it is missing, not a number or NaN."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def number(x: Any, digits: int = 4, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals (``+`` for positive when ``sign``); never ``-0.0000``; NaN / None -> ``–``."""
    v = _as_float(x)
    if v is None:
        return "–"
    if round(v, digits) == 0:
        v = 0.0
    return f"{v:+.{digits}f}" if sign and v else f"{v:.{digits}f}"


def pvalue(p: Any) -> str:
    """A p-value with 2 significant digits (``0.0092``, ``0.14``, ``4.2e-11``); ``n/a`` when unknown."""
    v = _as_float(p)
    return "n/a" if v is None else f"{v:.2g}"


def params(x: Any) -> str:
    """A parameter count (or a mean of counts) as a whole number with thousands separators."""
    v = _as_float(x)
    return "–" if v is None else f"{int(round(v)):,}"


def cut(before: Any, after: Any) -> str:
    """What EDS cut, in words: "38% fewer" (one decimal under 1%)."""
    share = 1 - float(after) / float(before)
    return f"{share:.1%} fewer" if abs(share) < 0.01 else f"{share:.0%} fewer"


def rule_words(seeds: int, reference: str | None = None) -> str:
    """The rule in the words of a summary sentence: "two-tailed t-test over 5 seeds, p < 0.005"."""
    against = f", against {reference}" if reference else ""
    return f"two-tailed t-test over {seeds} seeds{against}, significant when p < {SIGNIFICANCE}"


def finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def listing(items: Sequence[str]) -> str:
    return ", ".join(items)


def planted_sentence(planted: Sequence[Mapping]) -> str | None:
    planted = [p for p in planted if isinstance(p, Mapping) and finite(p.get("precision"))]
    if not planted:
        return None
    prec = [float(p["precision"]) for p in planted]
    rec = [float(p.get("recall", math.nan)) for p in planted]
    if len(planted) == 1:
        p = planted[0]
        return (f"Planted: {p.get('hits')} of the {p.get('planted')} interactions planted in the synthetic data found; "
                f"precision {prec[0]:.2f}, recall {rec[0]:.2f}.")
    same = len(set(prec)) == 1 and len(set(rec)) == 1
    if same:
        return (f"Planted: against the interactions planted in the synthetic data, precision {prec[0]:.2f} and "
                f"recall {rec[0]:.2f} on each of the {len(planted)} seeds.")
    return (f"Planted: against the interactions planted in the synthetic data, precision {sum(prec) / len(prec):.2f} and recall "
            f"{sum(rec) / len(rec):.2f} on average over {len(planted)} seeds (precision {min(prec):.2f}-"
            f"{max(prec):.2f}, recall {min(rec):.2f}-{max(rec):.2f}).")


def settings_note(tokens: Sequence[str]) -> str | None:
    """What a table with comparison networks (the variants with their own ``network_args``) must say beside their
    rows: they run at their papers' settings, which need not be the strongest; None when ``tokens`` has none."""
    labels = [name(t) for t in dict.fromkeys(tokens) if (v := variants.of_token(t)) is not None and v.network_args]
    if not labels:
        return None
    listed = ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + labels[-1]
    verb = "run at their papers'" if len(labels) > 1 else "runs at its paper's"
    return (f"{listed} {verb} settings, untuned. The "
            "reference library FuxiCTR's settings (--dnn-init xavier, --network-args) can be stronger: on Frappe "
            "they scored higher on validation and test and left AIM's lead over AutoInt+ and DCN-V2 within noise "
            "(docs/results.md). A † on these rows holds for these settings only.")
