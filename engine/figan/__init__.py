"""FIGAN feature explorer: which features the classifier uses, and what each looks like.

Chapter 4 of the FIGAN seminar report (see docs/figan.md): the classifier's feature layer over a
data set (:mod:`engine.figan.features`) is reduced to a few PLS components against the label
(:mod:`engine.figan.pls`); a conditional GAN (``engine.training.figan``) learns to draw
lung-field images from the component scores; per image, :mod:`engine.figan.explore` finds the
condition and noise that reproduce it and moves one component from -2 to +2 SD;
:mod:`engine.figan.validate` measures how well that works.

Nothing here is imported at package import time, so ``import engine.figan`` stays cheap.
"""
