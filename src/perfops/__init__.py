"""perfops: production performance operations for GPU inference and training services.

Observe (collect), promise (slo), prove (load, chaos), respond (runbook, incident),
account (cost), show (dashboard, report): one package, one CLI, one lake.
"""

from perfops.errors import ConfigError, PerfopsError, Problem, StoreError, UsageError

__version__ = "0.1.0"

__all__ = ["ConfigError", "PerfopsError", "Problem", "StoreError", "UsageError", "__version__"]
