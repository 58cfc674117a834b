"""Clients for live carbon-intensity services, one module per service.

``http`` (timeouts, retries, no secret in any message), ``cache`` (the disk cache) and
``settings`` (environment variables) are shared; ``electricitymaps``, ``watttime`` and
``ukgrid`` each turn one service's documented responses into ``greenml.carbon.Reading``
values, rejecting anything malformed. They are registered as plugins by
``greenml.default_plugins``; nothing here is imported by ``import greenml``.
"""
