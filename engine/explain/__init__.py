"""Explanations: counterfactual difference, lung statistics, slider frames, attributions, GIF."""
