"""Moved to tests/unit/test_engine_acceptance.py: pure engine (no model, no store, no server), so the fast tier.

This module holds no tests. It re-exports the seed paste for the surface tests that import it from here
(`from tests.test_engine_acceptance import SEED`); point them at tests.unit.test_engine_acceptance, then delete it.
"""

from tests.unit.test_engine_acceptance import SEED

__all__ = ["SEED"]
