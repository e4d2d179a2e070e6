"""Print what `cdk synth` produced: each stack, its region and its resources counted by type."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summarize(out_dir: Path) -> str:
    manifest = json.loads((out_dir / "manifest.json").read_text())
    lines = []
    total = 0
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((out_dir / artifact["properties"]["templateFile"]).read_text())
        counts = Counter(r["Type"] for r in template.get("Resources", {}).values())
        total += sum(counts.values())
        region = artifact["environment"].rsplit("/", 1)[-1]
        lines.append(f"{name}  region={region}  resources={sum(counts.values())}")
        lines += [f"    {count:4d}  {kind}" for kind, count in sorted(counts.items())]
    lines.append(f"{len([n for n in lines if not n.startswith(' ')])} stacks, {total} resources")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")))
