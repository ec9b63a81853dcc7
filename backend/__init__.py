"""Zhijian (质监) backend: domains, clients and the Litestar app."""

import os

# Piccolo finds its configuration through this variable; point it at ours unless the caller chose one.
os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")
