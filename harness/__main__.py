import sys

from harness.launch import main

sys.exit(main())
