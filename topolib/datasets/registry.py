"""Dataset registry: ``get_dataset(name)`` and ``DATASET_NAMES``."""

from __future__ import annotations

from topolib.datasets.base import ImageManifold
from topolib.datasets.circle import Circle
from topolib.datasets.disk import Disk
from topolib.datasets.klein import KleinBottle
from topolib.datasets.projective import ProjectivePlane
from topolib.datasets.sphere import Sphere
from topolib.datasets.torus import Torus
from topolib.datasets.two_circles import TwoCircles

__all__ = ["DATASETS", "DATASET_NAMES", "get_dataset"]

DATASETS: dict[str, type[ImageManifold]] = {
    cls.name: cls for cls in (Circle, Torus, Sphere, KleinBottle, ProjectivePlane, TwoCircles, Disk)
}
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def get_dataset(name: str | ImageManifold) -> ImageManifold:
    """The image manifold registered as ``name`` (an ``ImageManifold`` is passed through).

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not one of ``DATASET_NAMES``.
    """
    if isinstance(name, ImageManifold):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str); got {type(name).__name__}")
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset name {name!r}; expected one of {', '.join(DATASET_NAMES)}"
        )
    return DATASETS[name]()
