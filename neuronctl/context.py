"""What a command handler gets. Apart from cli.py so the command modules can name it without importing the
dispatcher that imports them; lazy, so `neuronctl plan` never touches AWS and `--help` loads no profile."""

from __future__ import annotations

import argparse
from functools import cached_property
from typing import Any

from neuronctl.errors import CliError, ExitCode


class Context:
    """What a handler needs, built only when it asks: the profile's config, AWS clients, the deployed stacks."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def config(self) -> Any:
        from config import ConfigError, load_config

        try:
            return load_config(self.args.profile)
        except ConfigError as err:
            raise CliError(str(err), ExitCode.USAGE) from None

    @cached_property
    def aws(self) -> Any:
        from neuronctl.session import Aws, AwsOptions

        extra: dict[str, Any] = {}
        if getattr(self.args, "read_timeout", None):
            extra["runtime_read_timeout"] = self.args.read_timeout
        return Aws(
            AwsOptions(
                region=self.args.region or self.config.region,
                aws_profile=self.args.aws_profile,
                max_attempts=self.args.max_attempts,
                **extra,
            )
        )

    @cached_property
    def deployment(self) -> Any:
        from neuronctl.discovery import Deployment

        return Deployment(self.config, self.aws)
