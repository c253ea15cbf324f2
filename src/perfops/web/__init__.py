"""The dashboard: one aiohttp server with a plain HTML/CSS/JS page, a vendored chart library
(uPlot, see static/vendor/VENDORED.md) and a read-only JSON API over the app layer's figures.
"""

from perfops.web.alertmanager import (
    build_receiver,
    check_receiver_bind,
    running_receiver,
    serve_receiver,
)
from perfops.web.screenshot import find_chromium, screenshot
from perfops.web.server import DashboardThread, build_app, check_bind, running_dashboard, serve

__all__ = [
    "DashboardThread",
    "build_app",
    "build_receiver",
    "check_bind",
    "check_receiver_bind",
    "find_chromium",
    "running_dashboard",
    "running_receiver",
    "screenshot",
    "serve",
    "serve_receiver",
]
