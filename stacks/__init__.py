"""One module per deployable unit; `build_stacks` wires them for a profile."""
