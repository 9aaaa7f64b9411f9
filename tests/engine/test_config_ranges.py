"""Every setting's range (``engine.config.RANGES``), checked in one place that the command line's --check,
each run's start, sessions, model files and the app's spin boxes share.

A value outside its range (too low, too high, an open end, inf, nan, a decimal where a whole number
belongs, true/false, text) is refused by the config's ``validate()`` and by ``--check``, in one sentence
that names the setting and its range; and a config ``--check`` accepts passes the same checks again
when the run starts.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import cli, cli_config
from engine.checkpoint import save_checkpoint
from engine.config import PRESETS, RANGES, ModelConfig, TrainConfig
from engine.errors import ConfigError, PlainError
from engine.stages.lora import METHODS, LoraConfig
from engine.stages.preference_tuning import PreferenceConfig
from engine.data.world import WorldSettings
from tests.engine.test_cli import run_main
from tests.engine.tuning_fixtures import instructions, tiny_base

CLASSES = {"model": ModelConfig, "train": TrainConfig, "lora": LoraConfig, "preference": PreferenceConfig,
           "world": WorldSettings}
SETTINGS = [(section, name) for section, ranges in RANGES.items() for name in ranges]
CHECKS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def outside(rng, toml: bool = False) -> st.SearchStrategy:
    """Values outside ``rng``: below it, above it, its open ends and, for a decimal setting, inf and nan.
    With ``toml``, only what a TOML file can hold as that setting's type (64-bit whole numbers)."""
    options = []
    if rng.whole:
        options.append(st.integers(min_value=-2**63 if toml else None, max_value=math.ceil(rng.low) - 1))
        if rng.high != math.inf:
            options.append(st.integers(min_value=math.floor(rng.high) + 1, max_value=2**63 - 1 if toml else None))
        if not toml:  # the config file's reader refuses these as "not a whole number" before any range
            options += [st.sampled_from([math.nan, math.inf, 1.5, True, "12"])]
    else:
        options.append(st.floats(max_value=rng.low, exclude_max=not rng.low_open, allow_nan=False,
                                 allow_infinity=False))
        if rng.high != math.inf:
            options.append(st.floats(min_value=rng.high, exclude_min=not rng.high_open, allow_nan=False,
                                     allow_infinity=False))
        options.append(st.sampled_from([math.nan, math.inf, -math.inf]))
        if not toml:
            options.append(st.sampled_from([True, "0.1", None]))
    return st.one_of(options)


def inside(rng, span: int = 40) -> st.SearchStrategy:
    """Values inside ``rng``, near its low end for whole numbers (a tiny model and data can take them)."""
    if rng.whole:
        low = int(rng.low) + rng.low_open
        high = min(int(rng.high) - rng.high_open, low + span) if rng.high != math.inf else low + span
        return st.integers(low, high)
    return st.floats(rng.low, min(rng.high, 100.0), exclude_min=rng.low_open, exclude_max=rng.high_open)


def test_every_number_of_every_settings_class_has_a_range_and_every_default_is_inside():
    for section, cls in CLASSES.items():
        numbers = {f.name for f in dataclasses.fields(cls) if isinstance(f.default, (int, float))}
        assert set(RANGES[section]) == numbers, section
        cls().validate()
    for preset in PRESETS:
        preset.model.validate()
        preset.train.validate()


@CHECKS
@given(data=st.data(), setting=st.sampled_from(SETTINGS))
def test_a_value_outside_its_range_is_refused_naming_the_setting_and_the_range(data, setting):
    section, name = setting
    rng = RANGES[section][name]
    value = data.draw(outside(rng), label="value")
    config = dataclasses.replace(CLASSES[section](), **{name: value})
    with pytest.raises(ConfigError) as refused:
        config.validate()
    message = str(refused.value)
    assert f"'{name}'" in message and rng.words() in message, message
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize("value, shown", [(math.inf, "it is infinite"), (math.nan, "it is nan (not a number)"),
                                          (-1.0, "it is -1"), (True, "it is true")])
def test_the_message_shows_the_bad_value_as_the_user_wrote_it(value, shown):
    with pytest.raises(ConfigError, match="'grad_clip'") as refused:
        TrainConfig(grad_clip=value).validate()
    assert shown in str(refused.value) and "must be a number above 0" in str(refused.value)
    assert "The default is 1." in str(refused.value)  # what to write instead


@pytest.mark.parametrize("value, shown", [(10**5000, "it is a huge number"), (-10**30, "it is a huge negative number"),
                                          ("12\n" * 100, "it is the text '12\\n12\\n")],
                         ids=["5000 digits", "-10**30", "long text"])
def test_huge_numbers_and_long_text_get_a_one_line_message(value, shown):
    """A session or model file is JSON, whose whole numbers can have any number of digits."""
    with pytest.raises(ConfigError) as refused:
        TrainConfig(total_steps=value).validate()
    assert shown in str(refused.value) and "\n" not in str(refused.value) and len(str(refused.value)) < 200


# --- the command line -------------------------------------------------------------------------------

CORPUS_LINES = "".join(f"{e.prompt}{e.completion}\n" for e in instructions()) * 40


def toml_value(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def write_config(folder, section: str, name: str, value) -> object:
    """A tiny pretraining config with one setting of [pretrain] or [model] (the CLI's names) set to ``value``."""
    (folder / "corpus.txt").write_text(CORPUS_LINES, encoding="utf-8")
    model = {"n_layers": 1, "n_heads": 2, "d_model": 32, "context_length": 16}
    pretrain = {"total_steps": 20, "batch_size": 4, "warmup_steps": 2, "eval_batches": 1, "sample_every": 0}
    (model if section == "model" else pretrain)[name] = value
    lines = ['stages = "pretrain"', '[corpus]', 'kind = "file"', 'path = "corpus.txt"', '[model]', 'preset = "tiny"']
    lines += [f"{k} = {toml_value(v)}" for k, v in model.items()]
    lines += ["[pretrain]"] + [f"{k} = {toml_value(v)}" for k, v in pretrain.items()]
    config = folder / "ranges.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


# vocab_size comes from the tokenizer and the seed is set once at the top: the file cannot set them here.
CLI_SETTINGS = [("train", n) for n in RANGES["train"] if n != "seed"] + \
               [("model", n) for n in RANGES["model"] if n != "vocab_size"]


@CHECKS
@given(data=st.data(), setting=st.sampled_from(CLI_SETTINGS))
def test_check_refuses_any_value_outside_its_range_naming_the_setting_and_the_range(tmp_path, data, setting):
    section, name = setting
    rng = RANGES[section][name]
    value = data.draw(outside(rng, toml=True), label="value")
    config = write_config(tmp_path, section, name, value)
    code, out, err = run_main([config, "--check"])
    assert code == 2 and out == ""
    assert f"'{name}'" in err and rng.words() in err, err
    assert f"In [{'pretrain' if section == 'train' else 'model'}]:" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("text, named", [
    ("eval_batches = 0", "'eval_batches' (batches averaged for one held-out loss) must be a whole number from 1"),
    ("beta2 = 1.0", "'beta2' (AdamW's memory of gradient size) must be a number from 0 up to, but not including, 1"),
    ("learning_rate = inf", "'learning_rate' (the learning rate) must be a number above 0 and at most 10,000; "
                            "it is infinite"),
    ("grad_clip = -1.0", "'grad_clip' (the largest allowed gradient size) must be a number above 0; it is -1"),
    ("beta1 = 2.0", "'beta1' (AdamW's momentum) must be a number from 0 up to, but not including, 1; it is 2"),
    ("weight_decay = -100.0", "must be a number from 0 to 1; it is -100"),
])
def test_the_settings_issue_16_found_are_refused_by_check_and_by_the_run(tmp_path, text, named):
    """Each of these passed --check before, then failed (or trained uphill) in the real run."""
    (name, value), = tomllib.loads(text).items()
    config = write_config(tmp_path, "train", name, value)
    for argv in ([config, "--check"], [config]):
        code, _, err = run_main(argv)
        assert code == 2 and named in err and "The default is" in err
        assert not (tmp_path / "out" / "pretrained.json").exists()


@pytest.mark.parametrize("section, line, expected", [
    ("pretrain", "batch_size = 1.5", "'pretrain.batch_size' must be a whole number, but the file has 1.5. "
                                     "It must be a whole number from 1 to 100,000."),
    ("instruct", "lora_rank = \"8\"", "'instruct.lora_rank' must be a whole number, but the file has \"8\". "
                                      "It must be a whole number from 1 to 100,000."),
    ("model", "n_layers = inf", "'model.n_layers' must be a whole number, but the file has inf. "
                                "It must be a whole number from 1 to 1,000 layers."),
])
def test_a_setting_of_the_wrong_type_is_told_its_range_too(tmp_path, section, line, expected):
    config = tmp_path / "typed.toml"
    config.write_text(f"[{section}]\n{line}\n", encoding="utf-8")
    code, _, err = run_main([config, "--check"])
    assert code == 2 and expected in err and len(err.splitlines()) == 1


def test_a_config_file_that_starts_with_a_byte_order_mark_is_read(tmp_path):
    config = write_config(tmp_path, "train", "total_steps", 20)
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())  # what Windows Notepad writes
    assert cli.load_config(config).pretrain.total_steps == 20
    code, _, err = run_main([config, "--check"])
    assert code == 0 and "The config is fine" in err


def _pretraining_starts(cfg) -> None:
    """What a pretraining run checks when it starts, up to its first JAX work."""
    from engine.stages.pretraining import PretrainingRun

    PretrainingRun(cli._corpus(cfg), cfg.tokenizer, cfg.model, cfg.pretrain)._prepare()


@CHECKS
@given(data=st.data(), setting=st.sampled_from(CLI_SETTINGS))
def test_what_check_accepts_passes_the_checks_at_the_start_of_the_run(tmp_path, data, setting):
    section, name = setting
    value = data.draw(inside(RANGES[section][name]), label="value")
    config = write_config(tmp_path, section, name, value)
    try:
        cfg = cli.load_config(config)
        accepted = cli.run_pipeline(cfg, check_only=True, stderr=io.StringIO()) == cli.EXIT_OK
    except PlainError as err:  # a data or memory check (a context longer than the text): said in words
        assert "Traceback" not in str(err)
        accepted = False
    if accepted:
        _pretraining_starts(cfg)  # raises if the run would refuse what --check let through


@pytest.fixture(scope="module")
def tuning_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuning-ranges")
    save_checkpoint(tiny_base(), folder / "base")  # width 32
    with open(folder / "sft.jsonl", "w", encoding="utf-8") as f:
        for e in instructions():
            f.write(json.dumps({"prompt": e.prompt, "completion": e.completion}) + "\n")
    return folder


@CHECKS
@given(method=st.sampled_from(METHODS), rank=st.integers(1, 64), batch_size=st.integers(1, 16),
       val_fraction=st.floats(0.01, 0.49))
def test_instruction_tuning_refuses_at_its_start_exactly_what_check_refuses(tuning_folder, method, rank,
                                                                             batch_size, val_fraction):
    """A LoRA rank above the model's width passed --check before, then stopped the run."""
    from engine.checkpoint import load_checkpoint
    from engine.stages.instruction_tuning import InstructionTuningRun
    from engine.data.tuning_data import load_instructions

    cfg = cli_config.parse_config({"stages": "instruct", "instruct": {
        "data": "sft.jsonl", "method": method, "lora_rank": rank, "batch_size": batch_size,
        "val_fraction": val_fraction}}, tuning_folder)
    base = tuning_folder / "base"

    def refusal(check) -> str | None:
        try:
            check()
        except ConfigError as err:
            return str(err)
        return None

    at_check = refusal(lambda: cli.run_pipeline(cfg, base, check_only=True, stderr=io.StringIO()))
    run = InstructionTuningRun(load_checkpoint(base), load_instructions(tuning_folder / "sft.jsonl"),
                               cfg.instruct.train, method=method, lora=cfg.instruct.lora)
    at_start = refusal(lambda: (run._check_settings(), run._prepare()))
    assert (at_check is None) == (at_start is None), (at_check, at_start)
    if at_check is not None:
        assert at_check.startswith("In [instruct]: The LoRA rank") and method == "lora" and rank > 32
