from setuptools import setup, find_packages

setup(
    name="boardcti",
    version="0.1.0",
    description="Voice-board driver and CTI middleware: E1/analog boards to agent desktops",
    packages=find_packages(include=["cti*", "drivers*", "simulators*"]),
    package_data={"cti": ["py.typed"]},     # PEP 561: the client library's types
    python_requires=">=3.11",
    setup_requires=["cffi>=1.15"],
    cffi_modules=["csrc/build_hal.py:ffibuilder"],
    install_requires=[
        "cffi>=1.15",
        "pyzmq>=25",
        "sqlite-utils>=3.35",
        "pyserial>=3.5",
        "pyalsaaudio>=0.10",
        "prompt_toolkit>=3.0",
    ],
    extras_require={"test": ["pytest>=7", "hypothesis>=6", "numpy>=1.24", "jsonschema>=4.18", "mypy>=1.0"]},
    entry_points={"console_scripts": ["cti=cti.clients.cli:main"]},
)
