from utter.cli import main

raise SystemExit(main())
