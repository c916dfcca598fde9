"""The bridges' parameter files, as the launch files use them: ``config/`` of ``twist_bringup``'s share directory.

``twist_bringup`` depends on this package (its launch graph starts the bridges), so these tests' use of its
installed configuration is not declared back as a dependency (a cycle colcon refuses): build the workspace
(``make build``) before running them. They read the files only; no code of ``twist_bringup`` is imported.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory

CONFIG = Path(get_package_share_directory("twist_bringup")) / "config"
