"""Settings every test module shares.

Hypothesis: no per-example deadline. The suite runs on shared two-core
machines beside real node processes, where one example can take ten times
its usual time without anything being wrong; a deadline would then fail a
correct property. Tests that need a time bound state it themselves, as a
condition with its own deadline. A failing example prints its reproduction
blob.
"""

from hypothesis import settings

settings.register_profile("dgledger", deadline=None, print_blob=True)
settings.load_profile("dgledger")
