"""`promptvc prices`: the built-in price table, when it was last checked, and what each of this
repository's tiers costs."""

from __future__ import annotations

import json

from promptvc.errors import UserError


def run(as_json: bool) -> int:
    from promptvc.evaluation import prices

    tiers = _tier_prices()
    if as_json:
        print(
            json.dumps(
                {
                    "schema": "promptvc.prices/1",
                    "checked": prices.PRICES_CHECKED,
                    "source": prices.PRICES_SOURCE,
                    "multipliers": _multipliers(),
                    "models": [
                        {"model": model, **_price_dict(price)}
                        for model, price in prices.BUILTIN_PRICES.items()
                    ],
                    "tiers": tiers,
                },
                indent=2,
            )
        )
        return 0
    _print_table(tiers)
    return 0


def _multipliers() -> dict[str, float]:
    from promptvc.evaluation import prices

    return {
        "cache_write_5m": prices.CACHE_WRITE_5M,
        "cache_write_1h": prices.CACHE_WRITE_1H,
        "cache_read": prices.CACHE_READ,
        "batch": prices.BATCH,
    }


def _price_dict(price) -> dict:
    data = {"input": price.input, "output": price.output}
    if price.long_prompt is not None:
        long = price.long_prompt
        data["long_prompt"] = {"above": long.above, "input": long.input, "output": long.output}
    return data


def _tier_prices() -> list[dict]:
    """This repository's tiers (working tree) with the price each is estimated at; none outside
    a repository."""
    from promptvc.evaluation.plan import thinking_tokens
    from promptvc.evaluation.prices import config_price
    from promptvc.git.snapshot import WORKTREE
    from promptvc.prompts.tiers import effective_config, load_tiers, tiers_path
    from promptvc.workspace import Workspace

    try:
        ws = Workspace.open()
    except UserError:
        return []
    snapshot = ws.snapshot(WORKTREE)
    prompts_dir = ws.settings.prompts_dir
    tiers = load_tiers(snapshot, prompts_dir)
    rows = []
    for name in tiers:
        config = effective_config(name, {}, tiers, tiers_path(prompts_dir))
        price = config_price(config)
        rows.append(
            {
                "tier": name,
                "model": config.model,
                "price": _price_dict(price) if price else None,
                "source": "tiers.yaml" if config.price else ("built-in" if price else None),
                "thinking": config.params.get("thinking"),
                "thinking_tokens_estimated": thinking_tokens(config.params),
            }
        )
    return rows


def _print_table(tiers: list[dict]) -> None:
    from rich.table import Table

    from promptvc.evaluation import prices
    from promptvc.views.terminal import console

    out = console()
    out.print(
        f"built-in prices, USD per million tokens · checked {prices.PRICES_CHECKED} "
        f"against {prices.PRICES_SOURCE}",
        style="bold",
    )
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column, justify in (("model", "left"), ("input", "right"), ("output", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("")
    for model, price in prices.BUILTIN_PRICES.items():
        long = price.long_prompt
        note = (
            f"prompts over {long.above:,} tokens: {_usd(long.input)} / {_usd(long.output)}"
            if long
            else ""
        )
        table.add_row(model, _usd(price.input), _usd(price.output), note)
    out.print(table)
    out.print(
        f"cache writes ×{prices.CACHE_WRITE_5M:g} (5 minutes) or ×{prices.CACHE_WRITE_1H:g} "
        f"(1 hour) and reads ×{prices.CACHE_READ:g} of the input price; the Message Batches API "
        f"×{prices.BATCH:g}, with caching too. A tier's `price: {{input: N, output: N}}` in "
        "tiers.yaml overrides the table.",
        style="dim",
    )
    if tiers:
        out.print()
        out.print("this repository's tiers", style="bold")
        for row in tiers:
            out.print(_tier_line(row))


def _tier_line(row: dict) -> str:
    price = row["price"]
    cost = (
        f"{_usd(price['input'])} / {_usd(price['output'])} ({row['source']})"
        if price
        else "no price known (cost shown as unknown)"
    )
    thinking = (
        f" · thinking {json.dumps(row['thinking'])}: ≈{row['thinking_tokens_estimated']:,} "
        "output tokens a call"
        if row["thinking"]
        else ""
    )
    return f"  {row['tier']}: {row['model'] or '(no model)'} · {cost}{thinking}"


def _usd(amount: float) -> str:
    return f"${amount:g}"
