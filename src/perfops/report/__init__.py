"""Renderers of the leadership report, its briefing deck and review packs: they format the
figures app/ computed (each with its query and table versions) and compute none."""
