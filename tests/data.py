"""Test data shared by several test modules: one small support prompt and its golden set."""

from __future__ import annotations

TIERS = """\
fast:    {model: claude-haiku-4-5,  max_tokens: 512}
default: {model: claude-sonnet-4-6, max_tokens: 1024}
judge:   {model: claude-sonnet-4-6, max_tokens: 256, temperature: 0}
"""

ANSWER = """\
---
description: Answer a support question from the policy
tier: fast
temperature: 0
examples: examples/support.yaml
inputs: [question, policy]
---
system:
You are a support agent. Policy:
{{ policy }}
{% include "partials/tone.jinja" %}
{% for ex in examples %}
user:
{{ ex.question }}
assistant:
{{ ex.answer }}
{% endfor %}
user:
{{ question }}
"""

EXAMPLES = """\
- question: Where is my order?
  answer: Follow the tracking link in your email.
"""

GOLDEN = """\
prompt: support/answer
threshold: 0.9
vars: {policy: "Refunds are accepted within 30 days of delivery."}
cases:
  - id: refund-window
    vars: {question: "How long do I have to return an item?"}
    assert:
      - {type: contains, value: "30 days"}
  - id: late-return
    vars: {question: "Can I return after 2 months?"}
    assert:
      - {type: not-contains, value: "sorry"}
"""

# The shared golden set, judged on a model's answers.
MODEL_GOLDEN = GOLDEN.replace("threshold: 0.9", "provider: anthropic\nthreshold: 0.9")

# The shared golden set, each case judged against a rubric (with different passing scores).
JUDGED_GOLDEN = """\
prompt: support/answer
provider: anthropic
threshold: 0.5
vars: {policy: "Refunds are accepted within 30 days of delivery."}
cases:
  - id: refund-window
    vars: {question: "How long do I have to return an item?"}
    assert:
      - {type: llm-rubric, value: "Cites the 30-day policy", min: 4}
  - id: late-return
    vars: {question: "Can I return after 2 months?"}
    assert:
      - {type: llm-rubric, value: "Says no, citing the policy", min: 3}
"""


def answer_by_rule(body):
    # A pytest plugin: imported here, after pytest has loaded it (so its asserts are rewritten).
    from tests.model_server import last_user_text

    question = last_user_text(body)
    if "How long" in question:
        return "You have 30 days from delivery."
    return "No, the window is 30 days."
