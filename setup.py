from setuptools import find_packages, setup

setup(
    name="sksubset",
    version="0.1.0",
    description="Train deep nets on small, well-chosen weighted subsets of the data "
                "(GRAD-MATCH, CRAIG, GLISTER, CREST) behind a scikit-learn API.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    author="The sksubset developers",
    license="BSD-3-Clause",
    license_files=["LICENSE"],
    url="https://github.com/sksubset/sksubset",
    project_urls={
        "Documentation": "https://github.com/sksubset/sksubset/tree/main/docs",
        "Source": "https://github.com/sksubset/sksubset",
        "Changelog": "https://github.com/sksubset/sksubset/blob/main/CHANGELOG.md",
        "Issues": "https://github.com/sksubset/sksubset/issues",
    },
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Science/Research",
        "Intended Audience :: Developers",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    keywords="coreset, subset selection, data-efficient training, GRAD-MATCH, scikit-learn, "
             "skorch, pytorch",
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
    extras_require={
        "test": ["pytest>=7"],
        "dask": ["dask[distributed]>=2023.1"],
        "accelerate": ["accelerate>=0.26"],
        # MNIST-1D for the experiment runner (--dataset mnist1d): its generator, never a download
        "mnist1d": ["mnist1d>=0.0.2"],
        "docs": ["sphinx>=7.2", "numpydoc>=1.6", "sphinx-gallery>=0.15", "myst-parser>=2.0",
                 "pydata-sphinx-theme>=0.15"],
    },
    entry_points={"console_scripts": ["sksubset-bench=sksubset.experiments.__main__:main"]},
)
