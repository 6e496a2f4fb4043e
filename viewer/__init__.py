"""cxr-explain viewer: the Qt desktop application. Talks to the engine only through engine.api."""
