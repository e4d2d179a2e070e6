"""neuronctl: the operator CLI of the Neuron GenAI platform (plan, cost, invoke, run, capacity)."""

import os
from pathlib import Path

__version__ = "0.1.0"


def _prefer_project_node() -> None:
    """The config imports aws-cdk-lib, whose jsii runtime runs on node: use the project's node 22 first, as the
    Makefile does, so an older system node neither prints jsii's end-of-life banner nor runs the CDK."""
    local = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    if (local / "node").exists() and str(local) not in path.split(os.pathsep):
        os.environ["PATH"] = f"{local}{os.pathsep}{path}"


_prefer_project_node()
