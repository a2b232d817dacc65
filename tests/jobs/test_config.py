from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from growth.jobs.config import ConfigError, load_config


def test_defaults_env_file_then_environment(tmp_path: Path):
    env_file = tmp_path / "growth.env"
    env_file.write_text("# comment\nGROWTH_MASTER=spark://h:7077\nGROWTH_SIM_SEED=3\n")
    cfg = load_config(
        environ={"GROWTH_SIM_SEED": "11", "GROWTH_LAKE_ROOT": str(tmp_path / "lk")},
        env_file=env_file,
    )
    assert cfg.master == "spark://h:7077"  # from the file
    assert cfg.sim_seed == 11  # the environment wins over the file
    assert cfg.lake_root == (tmp_path / "lk").resolve()
    assert cfg.sim_end_date == date(2026, 10, 31)  # default
    assert cfg.table("silver_orders") == "growth.silver_orders"


def test_unknown_setting_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="GROWTH_MASTRE"):
        load_config(environ={"GROWTH_MASTRE": "x"}, env_file=Path(os.devnull))


def test_unparseable_value_names_its_source(tmp_path: Path):
    with pytest.raises(ConfigError, match="GROWTH_SHUFFLE_PARTITIONS"):
        load_config(environ={"GROWTH_SHUFFLE_PARTITIONS": "many"}, env_file=Path(os.devnull))


def test_missing_env_file_is_reported(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(environ={"GROWTH_ENV_FILE": str(tmp_path / "nope.env")})
