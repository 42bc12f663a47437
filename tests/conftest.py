"""Settings shared by every test: the Hypothesis profiles.

"ci" (the default) is derandomized: the same examples on every run and every machine, so a
property test never fails by luck on someone else's change. Each property test sets its own
number of examples; "dev" explores ten times as many, from a fresh random seed each run, for
hunting (HYPOTHESIS_PROFILE=dev pytest tests/core). Failures print the blob that replays them.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
