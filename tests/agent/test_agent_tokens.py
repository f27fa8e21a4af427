"""The agent counts the tokens it really sends: the tool specs' JSON included, with cl100k."""

from __future__ import annotations

from agent_helpers import running_agent
from fakes.llm import ScriptedLLM, say

from agent.tokens import count_json_tokens, count_request_tokens
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


async def test_the_context_counts_the_tool_list_the_provider_receives(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(say("done"))
    config = {"bundled": {"toolsets": None}}  # every toolkit: the heaviest tool list
    async with running_agent(llm, settings, config=config) as (agent, _):
        await agent.run("hello")
        counted = agent.context.tools_tokens
    (request,) = llm.requests
    sent_tools = request.body["tools"]
    names = {tool["function"]["name"] for tool in sent_tools}
    one_per_toolkit = {"plan_update", "hub_write", "datasets_inspect", "papers_get", "docs_search"}
    one_per_toolkit |= {"github_read_file", "sandbox_files", "jobs_submit", "experiments_metrics"}
    assert one_per_toolkit <= names  # the whole list, not a default toolset
    assert not {name for name in names if name.startswith("views_")}  # app-only: never sent
    assert counted == count_json_tokens(sent_tools)
    # The old character heuristic and litellm's token_counter missed about half of it.
    from litellm import token_counter

    litellm_count = token_counter(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}], tools=sent_tools
    ) - token_counter(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert counted > 1.5 * litellm_count
    # Positive control: the count follows the text, so a longer list counts more.
    assert count_json_tokens(sent_tools + sent_tools[:5]) > counted


def test_a_request_count_is_messages_plus_tools() -> None:
    messages = [{"role": "user", "content": "fine-tune gpt2 on imdb"}]
    tools = [{"type": "function", "function": {"name": "plan_get", "parameters": {}}}]
    text_tokens = count_json_tokens(messages)
    assert count_request_tokens(messages, None) == text_tokens + 4
    assert count_request_tokens(messages, tools) == text_tokens + 4 + count_json_tokens(tools)
