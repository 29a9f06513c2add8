"""Pairwise verdicts (`llm-compare`): the judge's two answers on one pair of outputs, read from
the head's side, and their tally per set and criterion.

The judge sees each pair twice, the base output first and then the head output first, because
judges prefer a position; a pair whose two answers disagree is a tie. The win rate counts a tie
as half a win, so a change that changes nothing reads 0.50; the sign test leaves ties out, as it
must: "does the head lose more often than it wins?"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from promptvc.prompts.judge import Winner, parse_winner
from promptvc.stats import sign_test_p, wilson


class Preference(Enum):
    """One pair's verdict, from the head's side."""

    WIN = "win"
    TIE = "tie"
    LOSS = "loss"


@dataclass(frozen=True)
class PairVerdict:
    preference: Preference | None  # None: no judge answered
    inconsistent: bool = False  # the two orders got different answers: a tie
    unparsed: str | None = None  # a reply without a `Winner:` line (a tie), for the report
    unjudged: str | None = None  # why no judge answered


SAME_OUTPUT = PairVerdict(Preference.TIE)  # identical outputs: a tie, without asking


def verdict_of(base_first: str, head_first: str) -> PairVerdict:
    """A pair's verdict from the judge's replies with the base output shown first and with the
    head output shown first."""
    answers = parse_winner(base_first), parse_winner(head_first)
    if answers[0] is None or answers[1] is None:
        return PairVerdict(
            Preference.TIE, unparsed=base_first if answers[0] is None else head_first
        )
    shown_first, shown_second = _seen_by_head(answers[0], "2"), _seen_by_head(answers[1], "1")
    if shown_first != shown_second:
        return PairVerdict(Preference.TIE, inconsistent=True)
    return PairVerdict(shown_first)


def _seen_by_head(winner: Winner, head_is: Literal["1", "2"]) -> Preference:
    if winner == "tie":
        return Preference.TIE
    return Preference.WIN if winner == head_is else Preference.LOSS


@dataclass(frozen=True)
class PairwiseOutcome:
    """The head against the base on one criterion of a set, over the pairs the judge answered."""

    set_id: str
    criterion: str
    wins: int
    ties: int  # inconsistent and unparsed pairs included
    losses: int
    inconsistent: int
    unparsed: int
    unjudged: int  # pairs no judge answered (no recording, unreachable): left out
    win_rate: float | None  # (wins + ties/2) / pairs
    interval: tuple[float, float] | None  # 95% Wilson interval of the win rate
    p: float  # one-sided sign test: the head loses more often than it wins
    note: str | None = None  # why pairs went unjudged, or the first reply that did not parse

    @property
    def pairs(self) -> int:
        return self.wins + self.ties + self.losses

    def significant_loss(self, alpha: float) -> bool:
        return self.p < alpha


def summarise_pairs(
    set_id: str, criterion: str, verdicts: Sequence[PairVerdict]
) -> PairwiseOutcome:
    judged = [v.preference for v in verdicts if v.preference is not None]
    wins, ties, losses = (judged.count(p) for p in Preference)
    n = len(judged)
    half_wins = wins + ties / 2
    return PairwiseOutcome(
        set_id,
        criterion,
        wins,
        ties,
        losses,
        inconsistent=sum(v.inconsistent for v in verdicts),
        unparsed=sum(v.unparsed is not None for v in verdicts),
        unjudged=len(verdicts) - n,
        win_rate=half_wins / n if n else None,
        interval=wilson(half_wins, n) if n else None,
        p=sign_test_p(losses, wins),
        note=_note(verdicts),
    )


def _note(verdicts: Sequence[PairVerdict]) -> str | None:
    unjudged = next((v.unjudged for v in verdicts if v.unjudged), None)
    if unjudged:
        return unjudged
    unparsed = next((v.unparsed for v in verdicts if v.unparsed is not None), None)
    if unparsed is not None:
        return f"a reply without a 'Winner:' line: {' '.join(unparsed.split())[:120]!r}"
    return None
