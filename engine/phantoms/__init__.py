"""Synthetic PA chest radiograph phantoms with known ground truth (see docs/phantoms.md)."""

from engine.phantoms.generate import generate_pair, generate_phantom
from engine.phantoms.params import (
    GENERATOR_VERSION,
    ILO_SIZE_MM,
    DiseaseParams,
    ForeignObject,
    IloType,
    Label,
    LargeOpacity,
    Phantom,
    PhantomParams,
    Region,
    Zone,
    default_spacing_mm,
)
from engine.phantoms.recipe import DEFAULT_RECIPE, PLAIN_RECIPE, RECIPES, DiseaseRecipe

__all__ = [
    "DEFAULT_RECIPE",
    "GENERATOR_VERSION",
    "ILO_SIZE_MM",
    "PLAIN_RECIPE",
    "RECIPES",
    "DiseaseParams",
    "DiseaseRecipe",
    "ForeignObject",
    "IloType",
    "Label",
    "LargeOpacity",
    "Phantom",
    "PhantomParams",
    "Region",
    "Zone",
    "default_spacing_mm",
    "generate_pair",
    "generate_phantom",
]
