"""What the tests share and no test module defines: the once-per-session synthesis (`harness`), the slow checks run
in the background (`background`), state machines read back from templates (`state_machines`, `rendered_requests`),
and the neuronctl tests' offline AWS (`offline`, `aws_fixtures`, `fault_server`). Test modules import from here, never
from each other."""
