"""hgym episodes as TRL environments: ``GRPOTrainer(environment_factory=HGymTRLEnv)``.

What TRL's ``GRPOTrainer`` (1.13) does with an ``environment_factory``, and so what this class
is shaped for:

- it calls the factory with no argument for each concurrent rollout, and keeps the instances
  to reuse them in later batches (so configure through ``functools.partial`` or a lambda);
- it offers the model every public method except ``reset`` and ``get_reward`` as a tool, with
  a JSON schema that ``transformers.utils.get_json_schema`` builds from the method's type hints
  and Google-style docstring. Here that is one method per hgym tool, described as the server
  describes it in ``GET /v1/tools``, and nothing else public;
- before each rollout it calls ``reset(**row)`` with the dataset row's columns, and appends the
  string ``reset`` returns to the prompt's last user message: here the task's instruction;
- it runs each tool call of the model as a method call and sends back what the method returns
  (an exception becomes ``{"error": ...}``): here the step's observation;
- after the rollout it calls ``get_reward()`` as one more reward source (logged under the class
  name): here the episode's reward, after finishing it when the model did not call ``finish``.

Standard library only: TRL and transformers find the tools by inspecting the class, nothing
here imports them.
"""

import logging
from typing import Any, Dict, List, Literal, Mapping, Optional

from ..client import Client
from ..errors import EpisodeEnded, GradingFailed, ResetNeeded, SandboxError
from ..results import JSON, StepResult

__all__ = ["HGymTRLEnv"]

log = logging.getLogger(__name__)

ENDED = "The episode has already ended: this call was not run."


class HGymTRLEnv:
    """One hgym episode at a time, as a TRL ``environment_factory`` environment.

    ``base_url`` and ``api_key`` default to ``$HGYM_URL`` (else http://127.0.0.1:8000) and
    ``$HGYM_API_KEY``. ``task`` (a family; None: any), ``instance_id`` and ``seed`` choose each
    episode's instance unless the dataset row has a column of that name. ``max_steps`` and
    ``command_timeout`` (seconds) lower the server's limits for each episode. ``timeout``
    bounds each request in seconds (a step waits for its command and, at the end, for
    grading). ``client`` shares one :class:`hgym.Client` between environments instead.

    GRPO compares the rollouts of one prompt with each other, so they should play the same
    instance: give the dataset a ``seed`` or ``instance_id`` column (the same seed on the same
    corpus is the same instance). Without one, every rollout draws its own instance.

    After ``get_reward``, ``episode_id``, ``reward`` and ``grade`` (the grader's breakdown)
    describe the episode just played; ``client.trajectory(episode_id)`` has its steps.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        task: Optional[str] = None,
        instance_id: Optional[str] = None,
        seed: Optional[int] = None,
        max_steps: Optional[int] = None,
        command_timeout: Optional[float] = None,
        timeout: float = 300.0,
        client: Optional[Client] = None,
    ) -> None:
        self.client = client if client is not None else Client(base_url, api_key=api_key, timeout=timeout)
        self.task = task
        self.instance_id = instance_id
        self.seed = seed
        self.options: Dict[str, Any] = {}
        if max_steps is not None:
            self.options["max_steps"] = max_steps
        if command_timeout is not None:
            self.options["command_timeout"] = command_timeout
        self.episode_id: Optional[str] = None
        self.reward: Optional[float] = None
        self.grade: Optional[JSON] = None
        self._ended = False
        self._open = False

    def __repr__(self) -> str:
        return f"HGymTRLEnv({self.client.base_url!r}, task={self.task!r}, episode_id={self.episode_id!r})"

    # -- what TRL calls around a rollout ---------------------------------------------------

    def reset(self, **row: Any) -> str:
        """Starts a new episode and returns the task's instruction (the previous episode, if
        still open, is closed). TRL passes the dataset row: its ``task``, ``instance_id`` and
        ``seed`` columns, when present, choose the instance; the others are ignored."""
        self._close()
        seed = row.get("seed", self.seed)
        episode = self.client.reset(
            task=row.get("task", self.task),
            seed=int(seed) if seed is not None else None,
            instance_id=row.get("instance_id", self.instance_id),
            options=self.options,
        )
        self.episode_id = episode.episode_id
        self.reward = None
        self.grade = None
        self._ended = False
        self._open = True
        return _separator(row.get("prompt")) + episode.observation

    def get_reward(self) -> Optional[float]:
        """The episode's reward in [0, 1]. An episode the model left without calling ``finish``
        is finished (and graded) here; then it is closed. None when the episode could not be
        graded for a reason the agent did not cause (grading failed, sandbox lost): TRL leaves
        such a rollout out of the reward rather than counting it as 0."""
        episode_id = self._episode()
        if not self._ended:
            try:
                self._record(self.client.step(episode_id, {"tool": "finish", "arguments": {}}))
            except EpisodeEnded:
                # Ended on the server's side (closed when idle, say): its state has the outcome.
                state = self.client.state(episode_id)
                self._ended = True
                self.reward = float(state["reward"]) if state.get("reward") is not None else None
            except (GradingFailed, SandboxError) as err:
                log.warning("hgym episode %s could not be graded: %s", episode_id, err)
                self._ended = True
        self._close()
        return self.reward

    # -- the tools: one method per hgym tool (GET /v1/tools) -------------------------------

    def execute_bash(self, command: str, timeout: Optional[float] = None) -> str:
        """Run a bash command in the sandbox and return its output and exit code. The shell
        persists across calls (working directory and exported variables). Long-running commands
        are killed at the timeout; very long output is cut in the middle. There is no network.

        Args:
            command: The bash command to run. The shell persists between calls: the working
                directory and exported variables carry over.
            timeout: Seconds before the command and every process it started are killed. It can
                lower the server limit, not raise it.

        Returns:
            The command's output, then its exit code and working directory.
        """
        return self._step("execute_bash", {"command": command, "timeout": timeout})

    def str_replace_editor(
        self,
        command: Literal["view", "create", "str_replace", "insert", "undo_edit"],
        path: str,
        file_text: Optional[str] = None,
        old_str: Optional[str] = None,
        new_str: Optional[str] = None,
        insert_line: Optional[int] = None,
        view_range: Optional[List[int]] = None,
    ) -> str:
        """View, create and edit files. view shows a file with line numbers (optionally a line
        range) or lists a directory two levels deep; create writes a new file; str_replace
        replaces text that occurs exactly once; insert adds text after a given line; undo_edit
        reverts the last edit of a file. Paths are absolute.

        Args:
            command: view: show a file with line numbers, or a directory two levels deep. create:
                write a new file. str_replace: replace the one occurrence of old_str. insert: add
                new_str after line insert_line. undo_edit: revert the last edit of the file.
            path: Absolute path of a file or directory, e.g. /workspace/repo/module.py.
            file_text: create: the content of the new file.
            old_str: str_replace: the exact text to replace; it must occur exactly once in the file.
            new_str: str_replace: the replacement (empty to delete). insert: the text to insert.
            insert_line: insert: new_str goes after this line (0 = at the top).
            view_range: view of a file: [start, end] line numbers, 1-based and inclusive; end -1
                means to the end.

        Returns:
            What the command shows: the file or directory, the edited snippet, or what went wrong.
        """
        return self._step(
            "str_replace_editor",
            {
                "command": command,
                "path": path,
                "file_text": file_text,
                "old_str": old_str,
                "new_str": new_str,
                "insert_line": insert_line,
                "view_range": view_range,
            },
        )

    def think(self, thought: str) -> str:
        """Think through the problem without acting. Nothing in the sandbox changes; the thought
        is logged.

        Args:
            thought: Your reasoning. It changes nothing and is kept in the trajectory.

        Returns:
            An acknowledgement.
        """
        return self._step("think", {"thought": thought})

    def finish(self, message: Optional[str] = None) -> str:
        """Call this when the task is done. It ends the episode and your work is graded.

        Args:
            message: A short summary of what you did.

        Returns:
            That the episode is finished.
        """
        return self._step("finish", {"message": message})

    # -- plumbing (private: TRL offers every public method as a tool) ----------------------

    def _episode(self) -> str:
        if self.episode_id is None:
            raise ResetNeeded("call reset() before the tools or get_reward()")
        return self.episode_id

    def _step(self, tool: str, arguments: Mapping[str, Any]) -> str:
        episode_id = self._episode()
        if self._ended:
            return ENDED
        # Arguments the model left out go unsent, so the server's defaults apply.
        sent = {name: value for name, value in arguments.items() if value is not None}
        result = self.client.step(episode_id, {"tool": tool, "arguments": sent})
        self._record(result)
        return result.observation

    def _record(self, result: StepResult) -> None:
        if result.done:
            self._ended = True
            self.reward = result.reward
            grade = result.info.get("grade")
            self.grade = dict(grade) if isinstance(grade, Mapping) else None

    def _close(self) -> None:
        if self._open and self.episode_id is not None:
            self._open = False
            self.client.close(self.episode_id)


def _separator(prompt: Any) -> str:
    """What goes between the prompt's last user message and the instruction TRL appends to it:
    a blank line after text of the dataset's own, nothing after an empty placeholder."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], Mapping):
        content = prompt[-1].get("content")
        if isinstance(content, str) and content and not content[-1].isspace():
            return "\n\n"
    return ""
