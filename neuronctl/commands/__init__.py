"""The subcommands of `neuronctl`, one module each: `register(commands, common)` adds its parser (handler included) and
the handler turns the parsed arguments into output and an exit code. cli.py dispatches to them."""

from neuronctl.commands import capacity, cost, invoke, plan, run

# The order `neuronctl --help` lists them in.
COMMANDS = (plan, cost, invoke, run, capacity)
