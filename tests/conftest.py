import pytest

from course_utils.models import prepare_embedded_model, tiny_model_path


@pytest.fixture(scope="session")
def course_model_dir():
    """The embedded SmolLM2 folder (converted once by scripts/setup.sh)."""
    return prepare_embedded_model(quiet=True)


@pytest.fixture(scope="session")
def tiny_dir():
    return tiny_model_path()


@pytest.fixture(scope="session")
def tiny_model_and_tokenizer(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir).eval(), AutoTokenizer.from_pretrained(tiny_dir)
