"""Subclass of pkg.base.ProjectLoader through a relative import."""

import threading

from .base import ProjectLoader


class Child(ProjectLoader):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()

    def __getitem__(self, idx):
        return idx


class NotALoader:
    def __init__(self):
        self.lock = threading.Lock()
