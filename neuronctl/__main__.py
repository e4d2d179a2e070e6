from neuronctl.cli import main

raise SystemExit(main())
