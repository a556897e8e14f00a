"""Adapters from hgym episodes to training libraries; each module imports only what it adapts to.

- :mod:`hgym.integrations.trl`: an episode as TRL's ``GRPOTrainer(environment_factory=...)``
  environment (standard library only: TRL finds the tools by inspecting the class).
"""
