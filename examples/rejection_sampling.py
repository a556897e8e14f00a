#!/usr/bin/env python3
"""Rejection sampling with hgym: a model plays N episodes, the ones that score are kept as SFT data.

Any OpenAI-compatible chat-completions endpoint plays the agent. The server's action space
(GET /v1/tools) is passed as the model's `tools`; each tool call the model makes becomes a
step, and its observation goes back as a `tool` message answering that call's id. A reply
with no tool call is sent as a plain message (the server nudges the agent on). An episode
ends when the agent calls `finish`, at --max-steps (the server truncates and grades), or when
the model has had --max-steps turns. Episodes whose reward is at least --threshold are
written to --out as chat-format JSONL, one record per episode, in the shape of the server's
own `hgym export`: {"messages", "tools", "reward", "task", "instance_id"}.

    python3 examples/rejection_sampling.py --base-url http://127.0.0.1:8080/v1 --model my-model \\
        --server http://127.0.0.1:8000 --task func_localize --episodes 64 --concurrency 16 --out sft.jsonl

Standard library and the hgym package only (pip install ./clients/python; run from an hgym
checkout, the script finds the package there by itself). Prints one JSON summary line.
"""

import argparse
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

try:
    import hgym
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
    import hgym

Message = Dict[str, Any]


class ModelError(Exception):
    """The chat-completions endpoint failed or answered something unusable."""


class ChatModel:
    """A chat-completions endpoint. Failed calls (a connection error, 429, 5xx) are tried
    again a few times: asking a model again does no harm."""

    def __init__(self, base_url: str, model: str, api_key: Optional[str], temperature: float, max_tokens: Optional[int], timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout

    def complete(self, messages: List[Message], tools: List[Dict[str, Any]], attempts: int = 4) -> Message:
        body: Dict[str, Any] = {"model": self.model, "messages": messages, "tools": tools, "tool_choice": "auto", "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode("utf-8")
        for attempt in range(1, attempts + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    answer = json.loads(response.read().decode("utf-8"))
                message = answer["choices"][0]["message"]
                if not isinstance(message, dict):
                    raise ModelError(f"the model's answer has no message: {str(answer)[:300]}")
                return message
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")[:500]
                if (err.code != 429 and err.code < 500) or attempt == attempts:
                    raise ModelError(f"chat completions answered {err.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as err:
                if attempt == attempts:
                    raise ModelError(f"chat completions failed: {err}") from None
            except (ValueError, KeyError, IndexError, TypeError) as err:
                raise ModelError(f"the model's answer is not a chat completion: {err}") from None
            time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        raise ModelError("unreachable")


def tool_calls_of(message: Message, turn: int) -> List[Dict[str, Any]]:
    """The reply's tool calls in the OpenAI shape, each with an id (made up when missing)."""
    calls = []
    for n, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        calls.append(
            {
                "id": call.get("id") or f"call_{turn}_{n}",
                "type": "function",
                "function": {"name": function.get("name"), "arguments": function.get("arguments") or "{}"},
            }
        )
    return calls


def run_episode(index: int, args: argparse.Namespace, model: ChatModel, client: hgym.Client, tools: List[Dict[str, Any]], instance_id: Optional[str]) -> Dict[str, Any]:
    """One episode, played to its end. Returns its outcome and, when graded, its SFT record."""
    seed = args.seed + index if args.seed is not None else None
    episode = client.reset(task=args.task, seed=seed, instance_id=instance_id, options={"max_steps": args.max_steps})
    messages: List[Message] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": episode.observation})
    result: Optional[hgym.StepResult] = None
    try:
        for turn in range(args.max_steps):
            reply = model.complete(messages, tools)
            calls = tool_calls_of(reply, turn)
            content = reply.get("content")
            if not calls:
                # A plain message costs a step too; the server answers it with a nudge.
                messages.append({"role": "assistant", "content": content or ""})
                result = client.step(episode.episode_id, {"message": content or ""})
                messages.append({"role": "user", "content": result.observation})
            else:
                assistant: Message = {"role": "assistant", "content": content, "tool_calls": calls}
                messages.append(assistant)
                for n, call in enumerate(calls):
                    try:
                        action = hgym.action_from_tool_call(call)
                    except ValueError as err:
                        # Not an action the server could take at all: say so, as a tool would.
                        observation = f"ERROR: {err}. Call the tool again with a JSON object of arguments."
                    else:
                        result = client.step(episode.episode_id, action)
                        observation = result.observation
                    messages.append({"role": "tool", "tool_call_id": call["id"], "content": observation})
                    if result is not None and result.done:
                        # Calls after the end were never run: the record keeps only what was.
                        del calls[n + 1 :]
                        break
            if result is not None and result.done:
                break
    finally:
        client.close(episode.episode_id)
    graded = result is not None and result.done
    reward = result.reward if graded and result is not None else None
    record = {
        "messages": messages,
        "tools": tools,
        "reward": reward,
        "task": episode.info.get("task"),
        "instance_id": episode.info.get("instance_id"),
    }
    steps = result.info.get("step", 0) if result is not None else 0
    return {"episode_id": episode.episode_id, "reward": reward, "steps": steps, "record": record}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", required=True, help="the chat-completions API, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--model", required=True, help="the model name sent with each request")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"), help="the model endpoint's key (default: $OPENAI_API_KEY)")
    p.add_argument("--server", default=os.environ.get("HGYM_URL", hgym.DEFAULT_URL), help="the hgym server (default: $HGYM_URL or %(default)s)")
    p.add_argument("--hgym-api-key", default=os.environ.get("HGYM_API_KEY"), help="the hgym server's key (default: $HGYM_API_KEY)")
    p.add_argument("--task", help="a task family (default: any)")
    p.add_argument("--instance-id", action="append", default=[], help="play these instances, in turn (repeatable)")
    p.add_argument("--seed", type=int, help="episode i resets with seed SEED+i (the same instances every run)")
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-steps", type=int, default=30, help="steps per episode, and model turns per episode")
    p.add_argument("--threshold", type=float, default=1.0, help="keep episodes whose reward is at least this")
    p.add_argument("--out", default="sft.jsonl", help="where the kept episodes go (appended, JSONL)")
    p.add_argument("--system", help="a system prompt put before the task's instruction")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for one model call or one step")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.concurrency < 1 or args.max_steps < 1:
        p.error("--episodes, --concurrency and --max-steps must be at least 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    client = hgym.Client(args.server, api_key=args.hgym_api_key, timeout=args.timeout)
    model = ChatModel(args.base_url, args.model, args.api_key, args.temperature, args.max_tokens, args.timeout)
    tools = client.tools()
    instances = itertools.cycle(args.instance_id) if args.instance_id else itertools.repeat(None)
    plan = [(i, next(instances)) for i in range(args.episodes)]
    lock = threading.Lock()
    rewards: List[float] = []
    counts = {"kept": 0, "ungraded": 0, "errors": 0}
    started = time.monotonic()

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as out:

        def play(item: Any) -> None:
            index, instance_id = item
            try:
                outcome = run_episode(index, args, model, client, tools, instance_id)
            except (hgym.HGymError, ModelError) as err:
                with lock:
                    counts["errors"] += 1
                print(f"episode {index}: failed: {type(err).__name__}: {err}", file=sys.stderr)
                return
            reward = outcome["reward"]
            kept = reward is not None and reward >= args.threshold
            with lock:
                if reward is None:
                    counts["ungraded"] += 1
                else:
                    rewards.append(reward)
                if kept:
                    counts["kept"] += 1
                    out.write(json.dumps(outcome["record"], ensure_ascii=False) + "\n")
                    out.flush()
            verdict = "kept" if kept else "dropped"
            print(f"episode {index}: {outcome['record']['instance_id']} reward={reward} steps={outcome['steps']} {verdict}", file=sys.stderr)

        with ThreadPoolExecutor(max_workers=min(args.concurrency, args.episodes)) as pool:
            list(pool.map(play, plan))

    summary = {
        "episodes": args.episodes,
        "graded": len(rewards),
        "kept": counts["kept"],
        "ungraded": counts["ungraded"],
        "errors": counts["errors"],
        "mean_reward": round(sum(rewards) / len(rewards), 4) if rewards else None,
        "threshold": args.threshold,
        "out": args.out,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(summary))
    return 1 if counts["errors"] == args.episodes else 0


if __name__ == "__main__":
    sys.exit(main())
