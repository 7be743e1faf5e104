"""`python -m awslocal`: see `awslocal.run`."""

from awslocal.run import main

raise SystemExit(main())
