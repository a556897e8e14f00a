"""What a trainer writes against the client, checked by ``mypy --strict`` and never run
(test/clients/python-typing.test.ts). ``assert_type`` fails when a value's type is not
the one named, Any included; each ``# type: ignore[...]`` marks an error mypy must find,
and were the value Any there would be none, an unused ignore, which --strict reports."""

from typing import Any, Dict, List, Optional

from typing_extensions import assert_type

import hgym

ACTION = {"tool": "think", "arguments": {"thought": "typed"}}


def over_rest(client: hgym.Client) -> float:
    episode = client.reset(task="func_localize", seed=1)
    episode_id, instruction, reset_info = episode
    assert_type(episode_id, str)
    assert_type(instruction, str)
    assert_type(reset_info, Dict[str, Any])
    assert_type(episode.episode_id, str)

    obs, reward, terminated, truncated, info = client.step(episode_id, ACTION)
    assert_type(obs, str)
    assert_type(reward, float)
    assert_type(terminated, bool)
    assert_type(truncated, bool)
    assert_type(info, Dict[str, Any])
    total: float = reward
    named: str = reward  # type: ignore[assignment]
    count: int = obs  # type: ignore[assignment]

    result = client.step(episode_id, "a plain message")
    assert_type(result.done, bool)
    assert_type(result.reward, float)
    assert_type(result[1], float)

    call = {"id": "call_1", "type": "function", "function": {"name": "finish", "arguments": "{}"}}
    action = hgym.action_from_tool_call(call)
    assert_type(action, Dict[str, Any])
    client.step(episode_id, action)
    client.step(episode_id, 42)  # type: ignore[arg-type]

    assert_type(client.tools(), List[Dict[str, Any]])
    assert_type(client.close(episode_id), bool)
    return total + len(named) + count


def shared(url: str) -> None:
    with hgym.Client(url, retry=hgym.NO_RETRY) as client:
        assert_type(client, hgym.Client)
        client.timeout = 30.0
        client.disconnect()


async def over_websocket(url: str) -> None:
    def on_output(chunk: hgym.OutputChunk) -> None:
        assert_type(chunk.data, str)

    async with hgym.AsyncClient(url) as client:
        episode = await client.reset(task="dep_search")
        obs, reward, terminated, truncated, info = await client.step(episode.episode_id, ACTION, on_output=on_output)
        assert_type(reward, float)
        assert_type(terminated, bool)
        assert_type(await client.close(episode.episode_id), bool)


def errors(client: hgym.Client) -> None:
    try:
        client.tools()
    except hgym.HGymError as err:
        assert_type(err.code, Optional[str])
        assert_type(err.status, Optional[int])

