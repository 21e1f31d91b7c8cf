from setuptools import find_packages, setup

setup(
    name="sksubset",
    version="0.1.0",
    description="Train deep nets on small, well-chosen weighted subsets of the data "
                "(GRAD-MATCH, CRAIG, GLISTER, CREST) behind a scikit-learn API.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sksubset", "sksubset.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.0",
        "numpy>=1.23",
        "scikit-learn>=1.6",
        "skorch>=1.0",
        "scipy>=1.10",
        "tqdm>=4.60",
        "matplotlib>=3.6",
    ],
    extras_require={"test": ["pytest>=7"],
                    "dask": ["dask[distributed]>=2023.1"],
                    "accelerate": ["accelerate>=0.26"]},
    entry_points={"console_scripts": ["sksubset-bench=sksubset.experiments.__main__:main"]},
)
