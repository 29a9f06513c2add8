"""Planning an evaluation: which golden sets, which cases, the exact request of each, and its keys.

Planning renders every case first, so a broken template is an input error before a single
call is made, and the cost of what is not cached can be estimated before it is spent.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from promptvc.errors import UserError
from promptvc.evals.assertions import Assertion, schema_check
from promptvc.evals.goldens import BrokenSet, Case, GoldenSet
from promptvc.evals.leaks import canary_token, plant_canary
from promptvc.evals.routes import check_rules
from promptvc.evaluation.keys import (
    judge_identity,
    result_key,
    set_identity,
    set_key,
    tier_identity,
)
from promptvc.evaluation.prices import Price, config_price, estimate_tokens, over_budget
from promptvc.evaluation.request import ModelRequest, build_request
from promptvc.git.snapshot import Snapshot
from promptvc.names import matches, require_matches
from promptvc.prompts.judge import judge_config, render_judge
from promptvc.prompts.output_schema import OutputSchema, loaded
from promptvc.prompts.render import Rendered, Renderer
from promptvc.prompts.route import Route
from promptvc.prompts.tiers import EffectiveConfig
from promptvc.providers import Identity
from promptvc.yamlfile import line_of

OUTPUT_SHARE = 4  # an answer is estimated at a quarter of its max_tokens
JUDGED = ("llm-rubric", "llm-compare")  # assertions a model grades: the judge tier answers them


@dataclass(frozen=True)
class Call:
    """One request a run may send, estimated before it is sent."""

    price: Price | None
    input_tokens: int
    output_tokens: int
    counted: bool = False  # the input tokens were counted by the provider, not estimated
    discount: float = 1.0  # what of the price is billed: prices.BATCH when sent in a batch

    @property
    def cost(self) -> float:
        if not self.price:
            return 0.0
        return self.price.cost(self.input_tokens, self.output_tokens) * self.discount


@dataclass(frozen=True)
class RouteStep:
    """One tier of a routed prompt, as a case asks it."""

    tier: str
    request: ModelRequest
    price: Price | None
    identity: Identity


@dataclass(frozen=True)
class PlannedRoute:
    route: Route
    steps: tuple[RouteStep, ...]  # the first step's request is the job's own


@dataclass(frozen=True)
class TierPlan:
    """A route's tier for a whole set: its config's price and who answers it."""

    tier: str
    config: EffectiveConfig
    price: Price | None
    identity: Identity


@dataclass(frozen=True)
class CaseJob:
    golden: GoldenSet
    case: Case
    sample: int
    key: str
    request: ModelRequest
    price: Price | None
    identity: Identity
    set_key: str
    # The judge's requests depend on the output, so they are estimated from the judge template
    # and the output budget: judge_repeat per llm-rubric assertion.
    judge_calls: tuple[Call, ...] = ()
    judge: Identity | None = None  # who answers its judge calls (the judge tier's provider)
    budget: int | None = None  # the prompt's max_input_tokens
    canary: str | None = None  # the token planted in its system text (a `canary: true` set)
    route: PlannedRoute | None = None  # a routed prompt's tiers, tried in turn

    def at(self, step: RouteStep) -> CaseJob:
        """The job as one tier of its route asks it (its result says that tier answered)."""
        return replace(self, request=step.request, price=step.price, identity=step.identity)

    def over_budget(self, counted: int | None = None) -> str | None:
        """Why this request does not fit the prompt's token budget (by the provider's count where
        known, else the offline estimate): the case fails without a call."""
        if self.budget is None:
            return None
        tokens = counted if counted is not None else self.input_tokens
        return over_budget(tokens, self.budget, counted is not None)

    @property
    def judged_by(self) -> Identity:
        return self.judge or self.identity

    @property
    def model_call(self) -> Call:
        params = dict(self.request.params)
        output_budget = int(params.get("max_tokens", 1024))
        return Call(
            self.price, self.input_tokens, output_budget // OUTPUT_SHARE + thinking_tokens(params)
        )

    @cached_property
    def input_tokens(self) -> int:
        """The offline count: the provider's own tokenizer where it has one, else the estimate."""
        text = self.request.plain()
        counted = self.identity.count_tokens(self.request.model, text)
        return counted if counted is not None else estimate_tokens(text, self.request.model)

    def counted_call(self, input_tokens: int) -> Call:
        """The model's call with its input tokens as the provider counted them."""
        return replace(self.model_call, input_tokens=input_tokens, counted=True)


def thinking_tokens(params: dict) -> int:
    """Thinking is billed as output: an answer is estimated to think a quarter of its budget."""
    thinking = params.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return 0
    budget = thinking.get("budget_tokens")
    return int(budget) // OUTPUT_SHARE if isinstance(budget, int) else 0


@dataclass(frozen=True)
class SetPlan:
    golden: GoldenSet
    identity: Identity
    set_key: str
    jobs: tuple[CaseJob, ...]
    whole: bool  # every case of the set is in the plan (no -k filter)
    temperature: float
    samples: int
    route: Route | None = None


@dataclass(frozen=True)
class EvalPlan:
    snapshot: Snapshot
    renderer: Renderer
    sets: tuple[SetPlan, ...]

    @property
    def jobs(self) -> list[CaseJob]:
        return [job for plan in self.sets for job in plan.jobs]


def select_sets(
    goldens: list[GoldenSet], names: tuple[str, ...], broken: Sequence[BrokenSet] = ()
) -> tuple[list[GoldenSet], list[BrokenSet]]:
    """Sets named by id, path or prompt name (globs allowed), and the unreadable golden files
    those names reach; all when no name is given."""
    if not names:
        return list(goldens), list(broken)
    require_matches(
        names,
        [name for g in goldens for name in (g.id, g.path, g.prompt)]
        + [name for b in broken for name in b.names],
        "golden set or prompt",
    )
    return (
        [g for g in goldens if any(matches(c, n) for n in names for c in (g.id, g.path, g.prompt))],
        [b for b in broken if any(matches(c, n) for n in names for c in b.names)],
    )


def case_selected(golden: GoldenSet, case: Case, pattern: str | None) -> bool:
    """-k as in pytest: a substring (or glob) of `set/case`."""
    if not pattern:
        return True
    name = f"{golden.id}/{case.id}"
    return pattern in name or fnmatch.fnmatch(name, pattern)


def plan_eval(
    renderer: Renderer,
    goldens: list[GoldenSet],
    *,
    provider: str | None,
    default_provider: str,
    repeat: int | None = None,
    pattern: str | None = None,
    broken: list[BrokenSet] | None = None,
) -> EvalPlan:
    """The plan; a set that cannot be planned (a case that does not render) is an error, or,
    when `broken` is given, is added there and left out so that the other sets still run.
    Each set draws its own `repeat` samples per case, unless `repeat` (--repeat) overrides it."""
    sets = []
    for golden in goldens:
        cases = [c for c in golden.cases if case_selected(golden, c, pattern)]
        if pattern and not cases:
            continue
        try:
            sets.append(
                _plan_set(
                    renderer,
                    golden,
                    (provider, default_provider),
                    cases,
                    repeat or golden.repeat,
                    whole=len(cases) == len(golden.cases),
                )
            )
        except UserError as exc:
            if broken is None:
                raise
            broken.append(BrokenSet(golden.path, exc, (golden.path, golden.id, golden.prompt)))
    return EvalPlan(renderer.snapshot, renderer, tuple(sets))


def _plan_set(
    renderer: Renderer,
    golden: GoldenSet,
    choice: tuple[str | None, str],
    cases: list[Case],
    repeat: int,
    whole: bool,
) -> SetPlan:
    try:
        identity = set_identity(renderer, golden, *choice)
        judged = any(a.type in JUDGED for c in golden.cases for a in c.asserts)
        judge = judge_identity(renderer, golden.provider, *choice) if judged else None
        key = set_key(renderer, golden, identity)
        config = renderer.config(golden.prompt)
        route = renderer.route(golden.prompt)
        tiers = _route_tiers(renderer, golden, route, choice) if route else ()
    except UserError as exc:
        raise UserError(f"{exc} (golden set {golden.id})") from None
    if identity.kind != "echo" and not config.model:
        raise UserError(
            f"prompt '{golden.prompt}' has no model (give it a tier or a `model:`)",
            path=golden.path,
        )
    output = _output_schema(renderer, golden, config)
    budget = renderer.prompt(golden.prompt).max_input_tokens
    price = config_price(config)
    answer_tokens = int(config.params.get("max_tokens", 1024)) // OUTPUT_SHARE
    canary = canary_token(golden.id, golden.prompt) if golden.canary else None
    if route is not None:
        implied = [schema_check(output.schema or {})] if output and identity.kind != "echo" else []
        asserts = [a for c in golden.cases for a in c.asserts] + implied
        check_rules(route, asserts, renderer.prompt(golden.prompt).path, golden.id)
    jobs = []
    for case in cases:
        try:
            rendered = renderer.render(golden.prompt, case.vars)
            judge_calls = (
                _judge_calls(renderer, case, answer_tokens) * golden.judge_repeat
                if identity.kind != "echo"
                else ()
            )
        except UserError as exc:
            raise UserError(f"{exc} (golden set {golden.id}, case {case.id})") from None
        if output is not None:
            rendered = replace(rendered, config=replace(rendered.config, output_schema=output))
            if identity.kind != "echo":  # echo answers with the prompt itself, never JSON
                case = replace(case, asserts=(schema_check(output.schema or {}), *case.asserts))
        if canary is not None:
            rendered = _planted(renderer, golden, case, rendered, canary)
            if identity.kind != "echo":  # echo repeats the system text, the canary with it
                case = replace(case, asserts=(*case.asserts, canary_check(canary)))
        for sample in range(repeat):
            request = build_request(rendered, identity.kind, identity.endpoint, sample)
            routed = _planned_route(route, tiers, rendered, request, sample) if route else None
            jobs.append(
                CaseJob(
                    golden,
                    case,
                    sample,
                    result_key(key, case.id, sample),
                    request,
                    price,
                    identity,
                    key,
                    judge_calls,
                    judge,
                    budget,
                    canary,
                    routed,
                )
            )
    return SetPlan(golden, identity, key, tuple(jobs), whole, config.temperature, repeat, route)


def _route_tiers(
    renderer: Renderer, golden: GoldenSet, route: Route, choice: tuple[str | None, str]
) -> tuple[TierPlan, ...]:
    plans = []
    for tier in route.tiers:
        config = renderer.config(golden.prompt, tier)
        identity = tier_identity(renderer, golden, tier, *choice)
        plans.append(TierPlan(tier, config, config_price(config), identity))
    return tuple(plans)


def _planned_route(
    route: Route, tiers: tuple[TierPlan, ...], rendered, first: ModelRequest, sample: int
) -> PlannedRoute:
    """Each tier's request for one case: the same messages, the tier's own config."""
    steps = [RouteStep(tiers[0].tier, first, tiers[0].price, tiers[0].identity)]
    for plan in tiers[1:]:
        config = replace(plan.config, output_schema=rendered.config.output_schema)
        at_tier = replace(rendered, config=config)
        request = build_request(at_tier, plan.identity.kind, plan.identity.endpoint, sample)
        steps.append(RouteStep(plan.tier, request, plan.price, plan.identity))
    return PlannedRoute(route, tuple(steps))


def canary_check(token: str) -> Assertion:
    """The `not-icontains` of its canary token every case of a `canary: true` set gets."""
    return Assertion("icontains", True, token, implied_by="canary")


def _planted(
    renderer: Renderer, golden: GoldenSet, case: Case, rendered: Rendered, token: str
) -> Rendered:
    if not rendered.system.strip():
        raise UserError(
            f"golden set {golden.id} has canary: true, but prompt '{golden.prompt}' has no system "
            f"text to plant the canary in (case {case.id}); add a system: section or drop canary",
            path=golden.path,
            line=line_of(renderer.snapshot.read_text(golden.path), "canary"),
        )
    return replace(rendered, system=plant_canary(rendered.system, token))


def _output_schema(
    renderer: Renderer, golden: GoldenSet, config: EffectiveConfig
) -> OutputSchema | None:
    """The prompt's output schema, its Pydantic model loaded: planning is for evaluating, and
    evaluating runs the snapshot's repository code (as python assertions do)."""
    if config.output_schema is None:
        return None
    snapshot = renderer.snapshot
    root = str(snapshot.repo.root) if snapshot.repo is not None else "."
    where = renderer.prompt(golden.prompt).path
    try:
        return loaded(config.output_schema, snapshot, root, where)
    except UserError as exc:
        raise UserError(f"{exc.message} (golden set {golden.id})", path=exc.path) from None


def resample(plan: SetPlan, case_ids: Sequence[str], samples: range) -> SetPlan:
    """The same set's chosen cases again, at other sample indices: fresh samples with their own
    keys. Not the whole set, so its run records no set score."""
    wanted = set(case_ids)
    firsts = {job.case.id: job for job in plan.jobs if job.case.id in wanted and job.sample == 0}
    jobs = tuple(
        _at_sample(job, result_key(plan.set_key, job.case.id, sample), sample)
        for job in firsts.values()
        for sample in samples
    )
    return replace(plan, jobs=jobs, whole=False)


def _at_sample(job: CaseJob, key: str, sample: int) -> CaseJob:
    request = replace(job.request, sample=sample)
    route = job.route
    if route is not None:
        later = tuple(
            replace(s, request=replace(s.request, sample=sample)) for s in route.steps[1:]
        )
        route = replace(route, steps=(replace(route.steps[0], request=request), *later))
    return replace(job, sample=sample, key=key, request=request, route=route)


def _judge_calls(renderer: Renderer, case: Case, answer_tokens: int) -> tuple[Call, ...]:
    rubrics = [str(a.value) for a in case.asserts if a.type == "llm-rubric"]
    if not rubrics:
        return ()
    config = judge_config(renderer)
    price = config_price(config)
    reply_tokens = int(config.params.get("max_tokens", 256)) // OUTPUT_SHARE
    calls = []
    for rubric in rubrics:
        judged = render_judge(renderer, rubric, "", case.vars).plain()
        prompt_tokens = estimate_tokens(judged, config.model)
        calls.append(Call(price, prompt_tokens + answer_tokens, reply_tokens))
    return tuple(calls)


def estimate_cost(calls: list[Call]) -> float:
    """A rough cost for these calls: the input estimated offline, the output at a quarter of its budget."""
    return sum(call.cost for call in calls)
