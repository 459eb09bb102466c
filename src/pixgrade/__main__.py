from pixgrade.cli.main import main

raise SystemExit(main())
