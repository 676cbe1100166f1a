"""The flow, one module per stage, in reading order.

    draft    N variations of a prompt on the fast engine, each with its own seed
    review   keep / discard / star, with the human time it took
    promote  a kept draft re-rendered on a final engine (prompt, seed, image as init)
    cleanup  inpaint with a mask, outpaint by extending the canvas
    upscale  2K / 4K in overlapping tiles; optionally a creative pass (tiled low-strength img2img)
    video    a short clip from a hero image
    overlay  brand text as a separate layer

Each stage turns its typed spec (:mod:`tierflow.domain.specs`, whose ``STAGES`` table is the flow
in order) into :class:`~tierflow.stages.runner.RenderPlan` s and writes nothing; the application
service (:mod:`tierflow.app.service`) opens and reserves them, and
:func:`~tierflow.stages.runner.render` runs each (render, persist, settle).
"""
