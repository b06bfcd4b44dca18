"""topolib: datasets with known topology, generative models and topological metrics.

The package behind the book "How the topology of data limits deep generative models".
"""

__version__ = "0.1.0"

from topolib.cache import ModelCache, config_key  # noqa: E402
from topolib.chapter import Chapter, start_chapter  # noqa: E402
from topolib.device import device_name, get_device  # noqa: E402
from topolib.diagnostics import doctor  # noqa: E402
from topolib.profiles import PROFILE_NAMES, Profile, get_profile  # noqa: E402
from topolib.provenance import stamp, stamp_figure  # noqa: E402
from topolib.seeding import numpy_rng, torch_generator  # noqa: E402
from topolib.verdicts import Verdict, VerdictError, verdict  # noqa: E402

__all__ = [
    "PROFILE_NAMES",
    "Chapter",
    "ModelCache",
    "Profile",
    "__version__",
    "config_key",
    "device_name",
    "doctor",
    "get_device",
    "get_profile",
    "numpy_rng",
    "stamp",
    "stamp_figure",
    "start_chapter",
    "torch_generator",
    "Verdict",
    "VerdictError",
    "verdict",
]
