"""Where the on-prem inventory is looked for, apart from what it holds (``inventory``): with no
file there, planning has no on-prem sites and loads nothing of the inventory's reader."""

from __future__ import annotations

import os
from pathlib import Path

ENV_PATH = "GREENML_ONPREM_INVENTORY"
FILE_NAME = "onprem.toml"


def default_path() -> Path:
    """``$GREENML_ONPREM_INVENTORY``, else ``onprem.toml`` in the user's greenml config dir."""
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("greenml")) / FILE_NAME


def absent() -> bool:
    """No inventory to read: no variable names one and none is at the default path. (A file
    the variable names must exist, so that case is the reader's to refuse.)"""
    return not os.environ.get(ENV_PATH) and not default_path().is_file()
