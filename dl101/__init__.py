"""dl101: the companion package of the DL101 generative-models course.

Importing it is cheap on purpose: only torch comes in. Each chapter imports the module it needs
(``dl101.data``, ``dl101.training``, ``dl101.vae`` ...); diffusers and scikit-learn load only where
a chapter asks for them.
"""
from dl101.runtime import budget, is_smoke, pick_device, seed_everything, setup, show_source

__version__ = "0.2.0"  # the one place the version is written; see RELEASING.md
__all__ = ["budget", "is_smoke", "pick_device", "seed_everything", "setup", "show_source", "__version__"]
