"""A project's own base loader, subclassed in another file (cross-file resolution)."""

from keras.utils import PyDataset as Base


class ProjectLoader(Base):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return 4
