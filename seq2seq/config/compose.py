"""Where the configs live, in one place: the repository's top-level `conf/`, installed with the
package as `seq2seq.conf` (pyproject's `package-dir`), which Hydra reads as
`pkg://seq2seq.conf` from a clone and from an installed wheel alike."""

from __future__ import annotations

from importlib import resources

from omegaconf import DictConfig, OmegaConf, open_dict

CONFIG_PACKAGE = "seq2seq.conf"
CONFIG_PATH = f"pkg://{CONFIG_PACKAGE}"  # for hydra.main and a user's search path


def compose_config(name: str, overrides: list[str] = ()) -> DictConfig:
    """`conf/<name>.yaml` with Hydra overrides (`["model=gru_large", "train.lr=0.001"]`), as the
    commands compose it: Hydra's own settings are composed too, so that a bad `hydra.*` override
    fails here, then left out of the result."""
    from hydra import compose, initialize_config_module

    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def load_config_file(path: str) -> DictConfig:
    """One YAML file of the configs by its path under conf/ (`"decode/greedy.yaml"`), without
    Hydra's composition (for the argparse commands: translate, serve)."""
    text = resources.files(CONFIG_PACKAGE).joinpath(path).read_text(encoding="utf-8")
    return OmegaConf.create(text)
