"""Asking the pairwise judge (`llm-compare`) once both sides of a comparison have run.

For each set with llm-compare assertions and each case (and sample) answered on both sides, the
head snapshot's pairwise judge (`prompts/judge-compare.jinja`, else the built-in one, on the
`judge` tier) is asked twice, the two outputs in both orders. The calls go through the runner like
every judge call (the response cache, the provider, the deadline), so each is cached by its
request: the judge's template and tier, the criterion, and the two outputs in their order."""

from __future__ import annotations

from dataclasses import dataclass, replace

from promptvc.compare import SetComparison
from promptvc.errors import UserError
from promptvc.evals.assertions import COMPARE_TYPE
from promptvc.evals.goldens import Case, GoldenSet
from promptvc.evals.pairwise import (
    SAME_OUTPUT,
    PairVerdict,
    PairwiseOutcome,
    summarise_pairs,
    verdict_of,
)
from promptvc.evals.scoring import CaseResult, SetOutcome
from promptvc.evaluation.plan import OUTPUT_SHARE, Call, CaseJob, EvalPlan
from promptvc.evaluation.prices import config_price, estimate_tokens
from promptvc.evaluation.request import ModelRequest, build_request
from promptvc.evaluation.runner import Runner
from promptvc.prompts.judge import COMPARE_JUDGE, judge_config, parse_winner, render_compare_judge
from promptvc.prompts.render import Renderer
from promptvc.providers import RequestRejected, Response, provider_class
from promptvc.store import Store

DEADLINE_PASSED = "the deadline passed before the pairwise judge answered ([gate] deadline)"


def criteria(case: Case) -> list[str]:
    """The case's llm-compare criteria, each once, in the order written."""
    return list(dict.fromkeys(str(a.value) for a in case.asserts if a.type == COMPARE_TYPE))


def uses_compare(golden: GoldenSet) -> bool:
    return any(criteria(case) for case in golden.cases)


@dataclass(frozen=True)
class Pair:
    """One case's (and sample's) two outputs, to be judged on one criterion."""

    criterion: str
    job: CaseJob  # the head's: its provider answers, its vars fill the judge's prompt
    base: str
    head: str
    # The judge's two requests, the base output shown first and then the head output first;
    # none when the outputs are the same (a tie) or the provider cannot judge.
    asks: tuple[ModelRequest, ...] = ()


def make_pair(renderer: Renderer, criterion: str, job: CaseJob, base: str, head: str) -> Pair:
    if base == head or not provider_class(job.identity.provider).judges:
        return Pair(criterion, job, base, head)
    asks = tuple(
        # Sample 0: the same two outputs are the same question, whichever sample they came from.
        build_request(
            render_compare_judge(renderer, criterion, first, second, job.case.vars),
            job.judged_by.kind,
            job.judged_by.endpoint,
        )
        for first, second in ((base, head), (head, base))
    )
    return Pair(criterion, job, base, head, asks)


def pairs_of(renderer: Renderer, comparison: SetComparison, jobs: dict[str, CaseJob]) -> list[Pair]:
    """The pairs of a set: each case (and sample) answered on both sides, once per criterion."""
    if comparison.before is None or comparison.after is None:
        return []
    base = _answered(comparison.before)
    pairs = []
    for where, result in _answered(comparison.after).items():
        job = jobs.get(result.key)
        if where not in base or job is None:
            continue
        for criterion in criteria(job.case):
            before, after = base[where].output or "", result.output or ""
            pairs.append(make_pair(renderer, criterion, job, before, after))
    return pairs


def _answered(outcome: SetOutcome) -> dict[tuple[str, int], CaseResult]:
    """Results with an output to compare: evaluated, or skipped only for want of a comparison."""
    return {
        (r.case_id, r.sample): r
        for r in outcome.results
        if r.output is not None and (r.evaluated or r.compare_only)
    }


def judge_pairwise(
    runner: Runner, head: EvalPlan, comparisons: list[SetComparison]
) -> list[SetComparison]:
    """The comparisons, each set with llm-compare assertions and a baseline given its pairwise
    verdict per criterion. A judge request the API rejects is a configuration error (exit 2)."""
    plans = {p.golden.id: p for p in head.sets if uses_compare(p.golden)}
    judged = [c for c in comparisons if c.set_id in plans and c.before is not None]
    if not judged:
        return comparisons
    pairs = {
        c.set_id: pairs_of(head.renderer, c, {j.key: j for j in plans[c.set_id].jobs})
        for c in judged
    }
    answers = _ask(runner, [p for found in pairs.values() for p in found])
    outcomes = {
        c.set_id: _tally(c.set_id, plans[c.set_id].golden, pairs[c.set_id], answers) for c in judged
    }
    return [replace(c, pairwise=outcomes.get(c.set_id, c.pairwise)) for c in comparisons]


def _ask(runner: Runner, pairs: list[Pair]) -> dict[str, Response | Exception]:
    """{request key: the judge's response, or why there is none}, each distinct request once."""
    asks = {r.key: (r, pair.job) for pair in pairs for r in pair.asks}
    if not asks:
        return {}
    replies = runner.ask(list(asks.values()), lambda text: parse_winner(text) is not None)
    for reply in replies:
        if isinstance(reply, RequestRejected):
            raise UserError(f"the pairwise judge: {reply}")
    return dict(zip(asks, replies, strict=True))


def _tally(
    set_id: str, golden: GoldenSet, pairs: list[Pair], answers: dict[str, Response | Exception]
) -> tuple[PairwiseOutcome, ...]:
    verdicts: dict[str, list[PairVerdict]] = {
        c: [] for case in golden.cases for c in criteria(case)
    }
    for pair in pairs:
        verdicts[pair.criterion].append(_verdict(pair, answers))
    return tuple(summarise_pairs(set_id, c, found) for c, found in verdicts.items())


def _verdict(pair: Pair, answers: dict[str, Response | Exception]) -> PairVerdict:
    if pair.base == pair.head:
        return SAME_OUTPUT
    if not pair.asks:
        provider = pair.job.identity.provider
        return PairVerdict(
            None, unjudged=f"llm-compare needs a model; this set uses the {provider} provider"
        )
    replies = [answers[r.key] for r in pair.asks]
    texts = [r.text for r in replies if isinstance(r, Response)]
    if len(texts) < 2:
        failed = next(r for r in replies if isinstance(r, Exception))
        return PairVerdict(
            None, unjudged=DEADLINE_PASSED if isinstance(failed, TimeoutError) else str(failed)
        )
    return verdict_of(texts[0], texts[1])


def pairwise_calls(store: Store, before: EvalPlan, after: EvalPlan) -> list[Call]:
    """The pairwise judge's calls a comparison of these plans would send, for the spend cap: two
    per criterion and case on both sides; none where both outputs are already stored and equal,
    or where both answers are cached."""
    paired = _paired_jobs(before, after)
    if not paired:
        return []
    stored = store.results(job.key for pair in paired for job in pair)
    known: list[ModelRequest] = []
    calls: list[Call] = []
    for base_job, job in paired:
        base_output, head_output = (_stored_output(stored.get(j.key)) for j in (base_job, job))
        for criterion in criteria(job.case):
            if base_output is None or head_output is None:
                calls += _unseen_pair_calls(after.renderer, job, criterion)
            else:
                known += make_pair(after.renderer, criterion, job, base_output, head_output).asks
    cached = store.responses_for([r.key for r in known])
    price, reply = _judge_price(after.renderer), _reply_tokens(after.renderer)
    unique = {r.key: r for r in known if r.key not in cached}
    return calls + [Call(price, estimate_tokens(r.plain()), reply) for r in unique.values()]


def _paired_jobs(before: EvalPlan, after: EvalPlan) -> list[tuple[CaseJob, CaseJob]]:
    """(base job, head job) of each case and sample that both sides plan, in sets that use
    llm-compare, send their calls, and compare like with like."""
    base_plans = {p.golden.id: p for p in before.sets}
    paired: list[tuple[CaseJob, CaseJob]] = []
    for plan in after.sets:
        base = base_plans.get(plan.golden.id)
        if (
            base is None
            or base.identity.scores_key != plan.identity.scores_key
            or not provider_class(plan.identity.provider).sends
            or not uses_compare(plan.golden)
        ):
            continue
        base_jobs = {(j.case.id, j.sample): j for j in base.jobs}
        paired += [
            (base_jobs[(j.case.id, j.sample)], j)
            for j in plan.jobs
            if (j.case.id, j.sample) in base_jobs
        ]
    return paired


def _stored_output(row: dict | None) -> str | None:
    if row is None or row["status"] == "error":
        return None
    return row["output"]


def _unseen_pair_calls(renderer: Renderer, job: CaseJob, criterion: str) -> list[Call]:
    """Two calls whose outputs are not known yet: each estimated at its answer budget."""
    prompt = render_compare_judge(renderer, criterion, "", "", job.case.vars).plain()
    answer = job.model_call.output_tokens
    call = Call(
        _judge_price(renderer), estimate_tokens(prompt) + 2 * answer, _reply_tokens(renderer)
    )
    return [call, call]


def _judge_price(renderer: Renderer):
    return config_price(judge_config(renderer, COMPARE_JUDGE))


def _reply_tokens(renderer: Renderer) -> int:
    return int(judge_config(renderer, COMPARE_JUDGE).params.get("max_tokens", 256)) // OUTPUT_SHARE
