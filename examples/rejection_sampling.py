#!/usr/bin/env python3
"""Rejection sampling with hgym: a model plays N episodes, the ones that score are kept as SFT data.

Any OpenAI-compatible chat-completions endpoint plays the agent, through the openai SDK. The
server's action space (GET /v1/tools) is passed as the model's `tools`; each tool call the model
makes becomes a step (the text the model wrote beside its calls goes with the first of them, as
the action's `content`, so the server's trajectory keeps it too), and its observation goes back
as a `tool` message answering that call's id. A reply with no tool call is sent as a plain
message (the server nudges the agent on). An episode ends when the agent calls `finish`, at
--max-steps (the server truncates and grades), or when the model has had --max-steps turns.
Sampling parameters (--temperature, --top-p, --max-tokens) are sent only when given: some
models refuse some of them.

Episodes whose reward is at least --threshold are written to --out as JSONL, one record per
episode, in the shape of the server's own `hgym export` and of what Hugging Face chat templates
render: {"messages", "tools", "reward", "grade", "task", "instance_id", "episode_id"}, with each
tool call's `arguments` an object, assistant `content` a string (the model's text beside its
calls, empty when none) and each `tool` message carrying its call's id and tool name. A call
that could not be run (its arguments not a JSON object) is left out of the record, as the
server's export leaves it out; the model was told of the mistake.

    python3 examples/rejection_sampling.py --base-url http://127.0.0.1:8080/v1 --model my-model \\
        --server http://127.0.0.1:8000 --task func_localize --episodes 64 --concurrency 16 --out sft.jsonl

Needs the openai package (pip install openai) and the hgym package (pip install ./clients/python;
run from an hgym checkout, the script finds the package there by itself). Prints one JSON
summary line.
"""

import argparse
import inspect
import itertools
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Set, Type, get_args

import openai
import pydantic
from openai.types.chat import ChatCompletion

try:
    import hgym
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
    import hgym

Message = Dict[str, Any]


class ModelError(Exception):
    """The chat-completions endpoint failed or answered something unusable."""


def build_models(root: Type[pydantic.BaseModel]) -> None:
    """The openai SDK's response models build their pydantic schemas on first use, and two
    threads doing that at once can fail (AttributeError: ... has no attribute
    '__pydantic_core_schema__'). Build `root` and every model it holds before the workers start."""
    seen: Set[Type[pydantic.BaseModel]] = set()
    pending = [root]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        model.model_rebuild(force=True)
        for field in model.model_fields.values():
            types: List[Any] = [field.annotation]
            while types:
                t = types.pop()
                if inspect.isclass(t) and issubclass(t, pydantic.BaseModel):
                    pending.append(t)
                types.extend(get_args(t))


class ChatModel:
    """A chat-completions endpoint through the openai SDK, which tries a failed call again
    itself (a connection error, 408, 409, 429, 5xx) up to `max_retries` times."""

    def __init__(self, base_url: str, model: str, api_key: Optional[str], sampling: Dict[str, Any], timeout: float) -> None:
        # The SDK insists on a key; a local server without one ignores whatever is sent.
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=3)
        build_models(ChatCompletion)
        self.model = model
        self.sampling = sampling

    def complete(self, messages: List[Message], tools: List[Dict[str, Any]]) -> Any:
        """The model's reply: the SDK's ChatCompletionMessage."""
        try:
            completion = self.client.chat.completions.create(model=self.model, messages=messages, tools=tools, tool_choice="auto", **self.sampling)
        except openai.APIError as err:
            raise ModelError(f"chat completions failed: {err}") from None
        if not completion.choices:
            raise ModelError(f"the model's answer has no choices: {str(completion)[:300]}")
        return completion.choices[0].message


def sampling_of(args: argparse.Namespace) -> Dict[str, Any]:
    """The sampling parameters given on the command line, and only those."""
    given = {"temperature": args.temperature, "top_p": args.top_p, "max_tokens": args.max_tokens}
    return {name: value for name, value in given.items() if value is not None}


def run_episode(index: int, args: argparse.Namespace, model: ChatModel, client: hgym.Client, tools: List[Dict[str, Any]], instance_id: Optional[str]) -> Dict[str, Any]:
    """One episode, played to its end. Returns its outcome and, when graded, its SFT record."""
    seed = args.seed + index if args.seed is not None else None
    episode = client.reset(task=args.task, seed=seed, instance_id=instance_id, options={"max_steps": args.max_steps})
    # Two views of one conversation: `chat` in the chat-completions shape the model is sent
    # (arguments as the model wrote them), `record` in the chat-template shape that is kept.
    chat: List[Message] = []
    if args.system:
        chat.append({"role": "system", "content": args.system})
    chat.append({"role": "user", "content": episode.observation})
    record: List[Message] = [dict(m) for m in chat]
    result: Optional[hgym.StepResult] = None
    try:
        for turn in range(args.max_steps):
            reply = model.complete(chat, tools)
            text = reply.content or ""
            calls = list(reply.tool_calls or [])
            if not calls:
                # A plain message costs a step too; the server answers it with a nudge.
                result = client.step(episode.episode_id, {"message": text})
                for messages in (chat, record):
                    messages.extend([{"role": "assistant", "content": text}, {"role": "user", "content": result.observation}])
            else:
                result = play_calls(client, episode.episode_id, turn, text, calls, chat, record) or result
            if result is not None and result.done:
                break
    finally:
        client.close(episode.episode_id)
    graded = result is not None and result.done
    reward = result.reward if graded and result is not None else None
    outcome = {
        "messages": record,
        "tools": tools,
        "reward": reward,
        "grade": result.info.get("grade") if graded and result is not None else None,
        "task": episode.info.get("task"),
        "instance_id": episode.info.get("instance_id"),
        "episode_id": episode.episode_id,
    }
    steps = result.info.get("step", 0) if result is not None else 0
    return {"episode_id": episode.episode_id, "reward": reward, "steps": steps, "record": outcome}


def play_calls(client: hgym.Client, episode_id: str, turn: int, text: str, calls: List[Any], chat: List[Message], record: List[Message]) -> Optional[hgym.StepResult]:
    """Runs one reply's tool calls in order, answering each in both views. Returns the last
    step's result (None when no call could run). Calls after the episode's end are never run,
    and neither view keeps them."""
    result: Optional[hgym.StepResult] = None
    sent: List[Message] = []
    sent_answers: List[Message] = []
    kept: List[Message] = []
    kept_answers: List[Message] = []
    for n, call in enumerate(calls):
        call_id = getattr(call, "id", None) or f"call_{turn}_{n}"
        function = getattr(call, "function", None)
        sent.append({"id": call_id, "type": "function", "function": {"name": getattr(function, "name", None), "arguments": getattr(function, "arguments", None) or "{}"}})
        try:
            action = hgym.action_from_tool_call(call)
        except ValueError as err:
            # Not an action the server could take at all: say so, as a tool would.
            sent_answers.append({"role": "tool", "tool_call_id": call_id, "content": f"ERROR: {err}. Call the tool again with a JSON object of arguments."})
            continue
        # The reply's text travels with its first call that runs.
        result = client.step(episode_id, {**action, "content": text} if text and not kept else action)
        sent_answers.append({"role": "tool", "tool_call_id": call_id, "content": result.observation})
        kept.append({"id": call_id, "type": "function", "function": {"name": action["tool"], "arguments": action["arguments"]}})
        kept_answers.append({"role": "tool", "tool_call_id": call_id, "name": action["tool"], "content": result.observation})
        if result.done:
            del sent[n + 1 :]
            break
    chat.append({"role": "assistant", "content": text or None, "tool_calls": sent})
    chat.extend(sent_answers)
    if kept or text:
        record.append({"role": "assistant", "content": text, **({"tool_calls": kept} if kept else {})})
        record.extend(kept_answers)
    return result


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
    p.add_argument("--temperature", type=float, help="sent only when given")
    p.add_argument("--top-p", type=float, help="sent only when given")
    p.add_argument("--max-tokens", type=int, help="sent only when given")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for one model call or one step")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.concurrency < 1 or args.max_steps < 1:
        p.error("--episodes, --concurrency and --max-steps must be at least 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    client = hgym.Client(args.server, api_key=args.hgym_api_key, timeout=args.timeout)
    model = ChatModel(args.base_url, args.model, args.api_key, sampling_of(args), args.timeout)
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
