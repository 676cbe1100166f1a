"""Loopback fakes of hosted image APIs: real HTTP servers on 127.0.0.1 that speak each vendor's
wire format, shipped in the package (like httpx's ``MockTransport``) so anyone can test offline.

    with FakeGemini() as fake:
        fake.script("429", "ok")        # the next two requests: rate-limited, then an image
        engine = GeminiImageEngine("gemini-2.5-flash-image", api_key="k", base_url=fake.url)

Every fake records the requests it received (``fake.requests``) and answers from a script of
behaviours, falling back to ``default`` when the script is empty (:mod:`.loopback`).
"""

from tierflow.engines.hosted.fakes.fal_server import FakeFal
from tierflow.engines.hosted.fakes.gemini_server import FakeGemini
from tierflow.engines.hosted.fakes.loopback import LoopbackServer, Recorded, Reply, gradient_png

__all__ = ["FakeFal", "FakeGemini", "LoopbackServer", "Recorded", "Reply", "gradient_png"]
