"""Only what pyproject.toml cannot say: the wheel carries the dashboards, rules, example configs and
config.example.yml under exporter/bundle/, so that a pip-only user gets the whole bundle
(``vsxi-xivo-exporter mixin --output DIR``), and leaves out each family's ``monitoring/`` (the mixin's
sources, which import mixin/, a repository tool: the bundle it generated is what the wheel carries). In a
checkout (or an editable install) the files are read from the repository itself; see exporter/bundle.py."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLE = ("config.example.yml", "grafana", "rules", "examples")


class BuildWithBundle(build_py):
    def run(self):
        super().run()
        for sources in Path(self.build_lib).glob("exporter/*/monitoring"):
            shutil.rmtree(sources)
        target = Path(self.build_lib) / "exporter" / "bundle"
        for name in BUNDLE:
            source = Path(name)
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.exists():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithBundle})
