"""Running the trained models on one radiograph (letterboxed, lung-field, mapped back)."""
