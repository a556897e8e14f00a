#!/usr/bin/env python3
"""GRPO with TRL on hgym episodes: the model plays tasks through hgym's tools and learns from their rewards.

TRL's GRPOTrainer runs the rollouts itself. `environment_factory` gives it one
hgym.integrations.trl.HGymTRLEnv per rollout: the trainer resets it with the dataset row (the
task's instruction joins the prompt), offers the model its methods as tools (execute_bash,
str_replace_editor, think, finish, described as GET /v1/tools describes them), runs the model's
tool calls as steps of the episode, and takes get_reward() (the graded reward; an episode the
model did not finish is finished there) as the reward. No reward function is needed.

GRPO compares the rollouts of one prompt with each other, so they must play the same instance:
each dataset row carries a `seed`, and the same seed on the same corpus is the same instance.
Every rollout of a generation batch holds an episode (a sandbox) while the batch is generated:
per_device_train_batch_size x gradient_accumulation_steps x processes episodes at once, which the
server must allow (hgym serve --max-episodes, and its pool).

    pip install "trl==1.13.*" datasets torch        # vllm too, for --vllm
    pip install ./clients/python                     # or run from an hgym checkout
    npx hgym serve --max-episodes 64 &
    python3 examples/grpo_trl.py --model Qwen/Qwen3-0.6B --server http://127.0.0.1:8000 --task func_localize
"""

import argparse
import functools
import os
import sys
from typing import List, Optional

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

try:
    from hgym.integrations.trl import HGymTRLEnv
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
    from hgym.integrations.trl import HGymTRLEnv

SYSTEM = (
    "You are a software engineer working in a sandbox with a Python repository. Use the tools to "
    "look around and make the change the task asks for, then call finish."
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a causal LM on the Hub or a local path, whose chat template supports tools")
    p.add_argument("--server", default=os.environ.get("HGYM_URL"), help="the hgym server (default: $HGYM_URL or http://127.0.0.1:8000)")
    p.add_argument("--api-key", default=os.environ.get("HGYM_API_KEY"), help="the hgym server's key (default: $HGYM_API_KEY)")
    p.add_argument("--task", help="a task family (default: any)")
    p.add_argument("--prompts", type=int, default=256, help="dataset rows: distinct instances (seeds) to train on")
    p.add_argument("--seed", type=int, default=0, help="row i plays the instance of seed SEED+i")
    p.add_argument("--max-steps", type=int, default=20, help="hgym steps per episode, and tool-calling turns per rollout")
    p.add_argument("--num-generations", type=int, default=8, help="rollouts per prompt (GRPO's group)")
    p.add_argument("--batch-size", type=int, default=8, help="per-device train batch size")
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--max-completion-length", type=int, default=8192, help="tokens of a rollout after the prompt, tool results included")
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--train-steps", type=int, default=-1, help="optimizer steps (default: one pass over the dataset)")
    p.add_argument("--vllm", action="store_true", help="generate with vLLM on the training GPUs (colocate)")
    p.add_argument("--no-thinking", action="store_true", help="render the chat template with enable_thinking=False (Qwen3)")
    p.add_argument("--output-dir", default="grpo-hgym")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    seeds = list(range(args.seed, args.seed + args.prompts))
    # The instruction comes from reset(); the row's own prompt holds only the system message
    # and the user turn the instruction is appended to.
    prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ""}]
    dataset = Dataset.from_dict({"prompt": [prompt] * len(seeds), "seed": seeds})

    environment = functools.partial(HGymTRLEnv, base_url=args.server, api_key=args.api_key, task=args.task, max_steps=args.max_steps)
    config = GRPOConfig(
        output_dir=args.output_dir,
        num_generations=args.num_generations,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_completion_length=args.max_completion_length,
        max_tool_calling_iterations=args.max_steps,
        learning_rate=args.learning_rate,
        max_steps=args.train_steps,
        use_vllm=args.vllm,
        vllm_mode="colocate",
        chat_template_kwargs={"enable_thinking": False} if args.no_thinking else None,
        log_completions=True,
        logging_steps=1,
    )
    trainer = GRPOTrainer(model=args.model, args=config, train_dataset=dataset, environment_factory=environment)
    trainer.train()
    trainer.save_model(args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
