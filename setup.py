"""Package layout (metadata lives in pyproject.toml): one import package, ``curate``.

The top-level folders filters/, tokenizer/ and trainer/ install as curate.filters, curate.tokenizer and
curate.trainer (no generic top-level names), recipes/ as package data under curate/recipes/. Packages are
found, not listed, so a new subpackage ships without editing this file. A source checkout resolves the
same ``curate.*`` names through ``curate.__path__`` (curate/__init__.py adds the checkout root).
"""

from setuptools import find_packages, setup

MAPPED = {"curate.filters": "filters", "curate.tokenizer": "tokenizer", "curate.trainer": "trainer"}

package_dir = {"curate": "curate", "curate.recipes": "recipes", **MAPPED}
packages = find_packages(include=["curate", "curate.*"]) + ["curate.recipes"]
for name, folder in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(where=folder)]
    package_dir.update({f"{name}.{sub}": f"{folder}/{sub.replace('.', '/')}" for sub in find_packages(where=folder)})

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "curate": ["ray_agent_standin.sh"],
        "curate.recipes": ["*.yaml"],
        "curate.filters": ["resources/*.yaml"],
    },
)
