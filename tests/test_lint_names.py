"""Name and import resolution (threadsafe_gen/_lint/names.py)."""

from __future__ import annotations

import pytest
from lint_cases.support import codes


@pytest.mark.parametrize(
    "imports",
    [
        "from keras.utils import Sequence as S",
        "import keras\nS = None\nfrom keras.utils import PyDataset as S",
        "import tensorflow as tf\nS = tf.keras.utils.Sequence",
        "from tensorflow.keras.utils import Sequence as S",
        "from tf_keras.utils import Sequence as S",
        "from keras.utils.data_utils import Sequence as S",
        "from keras.src.trainers.data_adapters.py_dataset_adapter import PyDataset as S",
    ],
)
def test_loader_bases_resolved_through_imports(imports: str) -> None:
    """Every import spelling of Sequence/PyDataset makes the subclass a loader."""
    src = f"""
import threading
{imports}

class Loader(S):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()
"""
    if "S = tf." in imports:  # a base written as an attribute chain, not a name
        src = src.replace("class Loader(S)", "class Loader(tf.keras.utils.Sequence)")
    assert codes(src) == ["TSG151"]


def test_module_level_alias_of_the_base_is_followed() -> None:
    """`Base = keras.utils.PyDataset` at module level resolves like an import."""
    src = """
    import keras
    Base = keras.utils.PyDataset
    class Loader(Base):
        def __init__(self, x):
            self.x = x
    """
    assert codes(src) == ["TSG651"]
